import type {
  BillingCustomer,
  Invoice as InvoiceRow,
  PaymentMethod as PaymentMethodRow,
  Subscription as SubscriptionRow,
} from '../entities';
import {
  amountIn,
  type Plan as CatalogPlan,
  type PlanPrice as CatalogPlanPrice,
} from '../services/plans/plan.types';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { Customer } from '../schema/customer.type';
import { BillingInterval, OverLimitBehavior, SubscriptionStatus } from '../schema/enums';
import type { Invoice } from '../schema/invoice.type';
import type { PaymentMethod } from '../schema/payment-method.type';
import type { Plan, PlanPrice } from '../schema/plan.type';
import { type CreditRollover, CreditRolloverKind } from '../schema/plan-credits.type';
import type { SubscriptionSeats } from '../schema/seats.type';
import type { BillingSubscription } from '../schema/subscription.type';

/** Entities and catalog records → what clients see. Plain and small on purpose. */

/**
 * A catalog plan for clients. `pricedIn` is the currency its prices are shown in (the account's, for an account's
 * plan); null leaves it to `PlanResolver.prices` (the one asked for, else the caller's, else the base).
 */
export function toPlan(plan: CatalogPlan, pricedIn: string | null = null): Plan {
  return {
    key: plan.key,
    name: plan.name,
    description: plan.description,
    // Resolved by `PlanResolver.prices` in the currency decided there.
    prices: [],
    pricedIn,
    features: Object.entries(plan.features).map(([key, enabled]) => ({ key, enabled })),
    limits: plan.limits.map((limit) => ({
      metric: limit.metric,
      included: limit.included,
      overLimit: limit.overLimit === 'block' ? OverLimitBehavior.BLOCK : OverLimitBehavior.BILL_OVERAGE,
    })),
    trialDays: plan.trialDays,
    salesLed: plan.salesLed,
    // Its prices are resolved by `PlanResolver.seats`, in the currency of `prices`.
    seats: plan.seats && { included: plan.seats.included, maximum: plan.seats.maximum, prices: [] },
    credits: { included: plan.credits.included, rollover: toCreditRollover(plan.credits.rollover) },
  };
}

function toCreditRollover(rollover: CatalogPlan['credits']['rollover']): CreditRollover {
  if (rollover.kind === 'percent')
    return { kind: CreditRolloverKind.PERCENT, percent: rollover.percent, max: null };
  if (rollover.kind === 'max') return { kind: CreditRolloverKind.MAX, percent: null, max: rollover.max };
  return { kind: CreditRolloverKind.NONE, percent: null, max: null };
}

/**
 * The seats of a subscription to a per-seat plan. `taken` and `pricePerSeat` are resolved on their own: one reads
 * the gauge, the other the account's currency (`SeatsResolver`).
 */
function toSubscriptionSeats(row: SubscriptionRow, plan: CatalogPlan): SubscriptionSeats | null {
  const price = plan.seats?.prices.find((candidate) => candidate.interval === row.interval);
  if (!plan.seats || !price) return null;
  return {
    included: plan.seats.included,
    purchased: plan.seats.included + row.extraSeats,
    atPeriodEnd: row.scheduledExtraSeats === null ? null : plan.seats.included + row.scheduledExtraSeats,
    maximum: plan.seats.maximum,
    planKey: plan.key,
    interval: price.interval,
    accountId: row.accountId,
  };
}

/** A catalog price in `currency`, with its amount in every currency of the catalog (the base first). */
export function toPlanPrice(
  price: CatalogPlanPrice,
  currency: string,
  currencies: readonly string[],
): PlanPrice {
  return {
    interval: price.interval === 'year' ? BillingInterval.YEAR : BillingInterval.MONTH,
    amount: amountIn(price.amounts, currency),
    currency,
    amounts: currencies.map((each) => ({ amount: amountIn(price.amounts, each), currency: each })),
    lookupKey: price.lookupKey,
  };
}

export function toSubscription(row: SubscriptionRow, catalog: PlanCatalog): BillingSubscription {
  const scheduledPlan = row.scheduledPlanKey ? catalog.find(row.scheduledPlanKey) : undefined;
  const pendingPlan = row.pendingPlanKey ? catalog.find(row.pendingPlanKey) : undefined;
  const plan = catalog.find(row.planKey) ?? catalog.freePlan();
  return {
    id: row.stripeSubscriptionId,
    status: row.status as SubscriptionStatus,
    plan: toPlan(plan),
    seats: toSubscriptionSeats(row, plan),
    interval: row.interval as BillingInterval,
    currentPeriodStart: row.currentPeriodStart,
    currentPeriodEnd: row.currentPeriodEnd,
    cancelAtPeriodEnd: row.cancelAtPeriodEnd,
    canceledAt: row.canceledAt,
    trialEnd: row.trialEnd,
    scheduledChange:
      scheduledPlan && row.scheduledChangeAt
        ? {
            plan: toPlan(scheduledPlan),
            interval: (row.scheduledInterval ?? row.interval) as BillingInterval,
            effectiveAt: row.scheduledChangeAt,
          }
        : null,
    pendingChange:
      pendingPlan && row.pendingChangeExpiresAt
        ? {
            plan: toPlan(pendingPlan),
            interval: (row.pendingInterval ?? row.interval) as BillingInterval,
            expiresAt: row.pendingChangeExpiresAt,
          }
        : null,
  };
}

export function toCustomer(row: BillingCustomer): Customer | null {
  if (!row.stripeCustomerId || row.deletedAt) return null;
  return { id: row.stripeCustomerId, email: row.email, name: row.name, address: row.address };
}

export function toInvoice(row: InvoiceRow): Invoice {
  return {
    id: row.stripeInvoiceId,
    number: row.number,
    status: row.status,
    amountDue: row.amountDue,
    amountPaid: row.amountPaid,
    amountRemaining: row.amountRemaining,
    subscriptionId: row.stripeSubscriptionId,
    amountRefunded: row.amountRefunded,
    currency: row.currency,
    periodStart: row.periodStart,
    periodEnd: row.periodEnd,
    hostedInvoiceUrl: row.hostedInvoiceUrl,
    invoicePdf: row.invoicePdf,
    createdAt: row.stripeCreatedAt,
  };
}

export function toPaymentMethod(row: PaymentMethodRow): PaymentMethod {
  return {
    id: row.stripePaymentMethodId,
    brand: row.brand,
    last4: row.last4,
    expMonth: row.expMonth,
    expYear: row.expYear,
    isDefault: row.isDefault,
  };
}
