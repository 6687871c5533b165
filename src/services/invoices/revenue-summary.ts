import type { EntityManager } from '@mikro-orm/postgresql';
import type { BillingInterval, SubscriptionStatus } from '../../entities';
import type { PlanCatalog } from '../plans/plan-catalog';

export interface RevenueFigures {
  /** Integer minor units of `currency`. */
  mrr: number;
  currency: string;
  activeSubscriptionsByPlan: Array<{ planKey: string; count: number }>;
  trialing: number;
  pastDue: number;
  churnedThisPeriod: number;
  /** The start of the current calendar month, UTC. */
  periodStart: Date;
  /** Active or past-due subscriptions whose plan and interval have no catalog price: not in `mrr`. */
  unpricedSubscriptions: number;
}

interface GroupRow {
  status: SubscriptionStatus;
  plan_key: string;
  interval: BillingInterval;
  currency: string;
  count: number | string;
}

/**
 * Revenue figures for admins, from our copy of the subscriptions and the plan catalog, in two grouped queries.
 *
 * MRR counts active and past-due subscriptions (past due still bills: Stripe is retrying, and the account keeps
 * its plan through the grace period) at their plan's catalog price for their interval: the monthly amount, or
 * for yearly ones the sum of all yearly amounts divided by 12 and rounded half up once, so the rounding error is
 * under one cent in total, not one per subscription. Trials are never revenue. A subscription whose plan has no
 * catalog price for its interval (an enterprise custom price) is counted in `unpricedSubscriptions` instead.
 * Amounts are list prices: a grandfathered old price, a coupon or a quantity above one is not reflected.
 */
export async function revenueSummary(
  em: EntityManager,
  catalog: PlanCatalog,
  now: Date = new Date(),
): Promise<RevenueFigures> {
  const periodStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const connection = em.getConnection();
  // The account's currency says what its subscription is charged in (an account without one pays the base).
  const groups: GroupRow[] = await connection.execute(
    `select s.status, s.plan_key, s."interval", coalesce(c.currency, ?) as currency, count(*)::int as count
       from subscription s
       left join billing_customer c on c.account_id = s.account_id
      where s.status in ('active', 'past_due', 'trialing')
      group by s.status, s.plan_key, s."interval", coalesce(c.currency, ?)`,
    [catalog.baseCurrency, catalog.baseCurrency],
  );
  // Churn is a subscription that ended this month: `ended_at` (Stripe's), else when it was canceled.
  const [churn] = await connection.execute<Array<{ count: number | string }>>(
    `select count(*)::int as count
       from subscription
      where status = 'canceled' and coalesce(ended_at, canceled_at) >= ?`,
    [periodStart],
  );

  let monthlyCents = 0;
  let yearlyCents = 0;
  let unpriced = 0;
  let trialing = 0;
  let pastDue = 0;
  const activeByPlan = new Map<string, number>();
  for (const group of groups) {
    const count = Number(group.count);
    if (group.status === 'trialing') {
      trialing += count;
      continue;
    }
    if (group.status === 'past_due') pastDue += count;
    else activeByPlan.set(group.plan_key, (activeByPlan.get(group.plan_key) ?? 0) + count);
    const price = catalog.find(group.plan_key)?.prices.find((each) => each.interval === group.interval);
    // MRR is in the base currency; converting another currency's revenue would need a rate we do not keep, so
    // such subscriptions are counted as unpriced instead of added at a made-up rate.
    const amount = group.currency === catalog.baseCurrency ? price?.amounts[group.currency] : undefined;
    if (amount === undefined) unpriced += count;
    else if (group.interval === 'year') yearlyCents += amount * count;
    else monthlyCents += amount * count;
  }

  const order = new Map(catalog.plans().map((plan, index) => [plan.key, index]));
  const activeSubscriptionsByPlan = [...activeByPlan]
    .map(([planKey, count]) => ({ planKey, count }))
    .sort(
      (a, b) =>
        (order.get(a.planKey) ?? order.size) - (order.get(b.planKey) ?? order.size) ||
        a.planKey.localeCompare(b.planKey),
    );
  return {
    mrr: monthlyCents + Math.round(yearlyCents / 12),
    currency: catalog.baseCurrency,
    activeSubscriptionsByPlan,
    trialing,
    pastDue,
    churnedThisPeriod: Number(churn?.count ?? 0),
    periodStart,
    unpricedSubscriptions: unpriced,
  };
}
