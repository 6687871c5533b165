import type { EntityManager } from '@mikro-orm/postgresql';
import { type PreparedSql, preparedSqlIn } from '../../database/prepared-transaction';
import type { BillingInterval, SubscriptionAddon, SubscriptionStatus } from '../../entities';

/**
 * Why this is SQL and not the ORM (issue 14, item 4; ADR 0020's amendment): a subscription event about a
 * subscription we already store is the webhook path's commonest work, and through MikroORM it cost three
 * statements (the customer; the row, locked; the changed columns) and a quarter of a worker's CPU in query
 * building, hydration and the unit of work. Here it is ONE statement and one round trip, with every value bound
 * as a parameter, prepared on its connection the first time (PostgreSQL plans it once per connection, not per
 * event). It does what `CustomerSync.ownerOf` and `SubscriptionSync.applyLocked` do for a row that
 * exists, and nothing else: the customer by its Stripe id; the subscription locked (`for update`: the latest
 * committed row, which a concurrent event may just have written); written only when this read is no older than
 * the row's (ADR 0005, `isNoOlderThan`), with the fields `settleDerivedFields` derives (the past-due start, the
 * scheduled change that is over). Anything else (no customer, no row yet) answers "unknown" and the caller takes
 * the ORM path, which holds the remaining rules (linking a customer, inserting). The two paths must agree:
 * `test/integration/known-subscription-statement.test.ts` runs both on random rows and reads and compares.
 */
const APPLY_TO_KNOWN_SUBSCRIPTION = `
with owner as (
  select id, account_id from billing_customer where stripe_customer_id = ?
),
locked as (
  select existing.* from subscription existing
   where existing.stripe_subscription_id = ? and exists (select 1 from owner)
     for update of existing
),
incoming as (
  select ?::subscription_status as status, ?::varchar as plan_key, ?::varchar as price_id,
         ?::billing_interval as interval, ?::timestamptz as current_period_start,
         ?::timestamptz as current_period_end, ?::boolean as cancel_at_period_end, ?::timestamptz as canceled_at,
         ?::timestamptz as ended_at, ?::timestamptz as trial_start, ?::timestamptz as trial_end,
         ?::varchar as schedule_id, ?::varchar as pending_plan_key, ?::billing_interval as pending_interval,
         ?::timestamptz as pending_change_expires_at, ?::jsonb as addons, ?::int as extra_seats,
         ?::boolean as credits_overage_item, ?::timestamptz as observed_at,
         ?::timestamptz as written_at
),
next as (
  select locked.id, owner.id as customer_id, owner.account_id, incoming.*,
         -- The grace period runs from the first read that saw it past due; paying (or a new trial) ends it.
         case when incoming.status in ('past_due', 'unpaid')
              then coalesce(locked.past_due_since, incoming.observed_at) end as past_due_since,
         -- A scheduled change is over once the subscription is on its plan, or once its schedule is gone
         -- (unless a cancellation at the period end released it: a resume schedules it again).
         locked.scheduled_plan_key is not null
           and (coalesce(incoming.plan_key = locked.scheduled_plan_key
                         and incoming.interval = locked.scheduled_interval, false)
                or (incoming.schedule_id is null and not incoming.cancel_at_period_end)) as schedule_over,
         -- A removed add-on is over once it is gone from the items, or once the schedule is (as above).
         case when incoming.schedule_id is null and not incoming.cancel_at_period_end then '[]'::jsonb
              else coalesce((select jsonb_agg(removal.key order by removal.position)
                               from jsonb_array_elements_text(locked.addon_removals)
                                    with ordinality as removal(key, position)
                              where exists (select 1 from jsonb_array_elements(incoming.addons) carried
                                             where carried->>'key' = removal.key)), '[]'::jsonb)
         end as addon_removals,
         -- Fewer units of an add-on: over once the item holds that number (or is gone), or the schedule is (as above).
         case when incoming.schedule_id is null and not incoming.cancel_at_period_end then '{}'::jsonb
              else coalesce((select jsonb_object_agg(target.key, target.value)
                               from jsonb_each(locked.addon_units_at_period_end) target
                              where exists (select 1 from jsonb_array_elements(incoming.addons) carried
                                             where carried->>'key' = target.key
                                               and carried->'quantity' <> target.value)), '{}'::jsonb)
         end as addon_units_at_period_end,
         -- Seats removed at the period end: over once the subscription holds that number, or its schedule is gone.
         locked.scheduled_extra_seats is not null
           and (incoming.extra_seats = locked.scheduled_extra_seats or incoming.schedule_id is null)
           as seats_schedule_over,
         -- The scheduled change this read finds the subscription on took effect when it was scheduled to (the
         -- renewal), not when this read happened: the provisioning weighs it from then.
         case when incoming.plan_key = locked.scheduled_plan_key and incoming.interval = locked.scheduled_interval
              then locked.scheduled_change_at end as scheduled_change_reached_at
    from locked, owner, incoming
   where locked.stripe_updated_at <= incoming.observed_at
),
updated as (
  update subscription target
     set customer_id = next.customer_id, account_id = next.account_id, status = next.status,
         plan_key = next.plan_key, price_id = next.price_id, interval = next.interval,
         current_period_start = next.current_period_start, current_period_end = next.current_period_end,
         cancel_at_period_end = next.cancel_at_period_end, canceled_at = next.canceled_at,
         ended_at = next.ended_at, trial_start = next.trial_start, trial_end = next.trial_end,
         schedule_id = next.schedule_id, pending_plan_key = next.pending_plan_key,
         pending_interval = next.pending_interval, pending_change_expires_at = next.pending_change_expires_at,
         past_due_since = next.past_due_since, addons = next.addons, addon_removals = next.addon_removals,
         addon_units_at_period_end = next.addon_units_at_period_end,
         extra_seats = next.extra_seats, credits_overage_item = next.credits_overage_item,
         scheduled_extra_seats = case when next.seats_schedule_over then null
                                      else target.scheduled_extra_seats end,
         scheduled_plan_key = case when next.schedule_over then null else target.scheduled_plan_key end,
         scheduled_interval = case when next.schedule_over then null else target.scheduled_interval end,
         scheduled_change_at = case when next.schedule_over then null else target.scheduled_change_at end,
         stripe_updated_at = next.observed_at, updated_at = next.written_at
    from next
   where target.id = next.id
  returning target.id
)
select owner.account_id as owner_account_id, locked.id is not null as known,
       exists (select 1 from updated) as written,
       locked.account_id as account_before, locked.status as status_before, locked.plan_key as plan_before,
       locked.past_due_since as past_due_before, locked.addons as addons_before,
       locked.extra_seats as seats_before, locked.credits_overage_item as overage_item_before,
       next.account_id as account_after, next.status as status_after, next.plan_key as plan_after,
       next.past_due_since as past_due_after, next.addons as addons_after, next.extra_seats as seats_after,
       next.credits_overage_item as overage_item_after, next.scheduled_change_reached_at
  from owner left join locked on true left join next on true`;

/** Stripe's subscription as our row's columns (what `SubscriptionSync` copies), read at `observedAt`. */
export interface SubscriptionFields {
  status: SubscriptionStatus;
  planKey: string;
  priceId: string | null;
  interval: BillingInterval;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: Date | null;
  endedAt: Date | null;
  trialStart: Date | null;
  trialEnd: Date | null;
  scheduleId: string | null;
  pendingPlanKey: string | null;
  pendingInterval: BillingInterval | null;
  pendingChangeExpiresAt: Date | null;
  addons: SubscriptionAddon[];
  /** The extra-seats item's quantity (0 without one). */
  extraSeats: number;
  /** Whether it carries the `ai_credits` metered item (credits beyond the balance are billed on it). */
  creditsOverageItem: boolean;
  stripeUpdatedAt: Date;
}

/** What decides the account's plan in a row (`FeatureProvisioner.effectivePlan`'s inputs besides the clock). */
export interface PlanInputs {
  accountId: string;
  status: SubscriptionStatus;
  planKey: string;
  /** A per-seat plan's `seats` limit adds these to its included seats. */
  extraSeats: number;
  pastDueSince: Date | null;
  /** The add-ons and their units: their grants are part of the entitlements. */
  addons: Array<Pick<SubscriptionAddon, 'key' | 'quantity'>>;
  /** Whether credits beyond the balance can be billed (the `ai_credits` item): cached allowances say so. */
  creditsOverageItem: boolean;
}

/** What the statement found and did: null when the customer or the row is not ours yet (take the ORM path). */
export interface KnownSubscriptionOutcome {
  accountId: string;
  before: PlanInputs;
  /** The row as written; null when the row holds a later read (nothing was written). */
  after: PlanInputs | null;
  /** When the scheduled change this write found reached was to take effect (`scheduledChangeReachedAt`), or null. */
  scheduledChangeReachedAt: Date | null;
}

interface StatementRow {
  owner_account_id: string;
  known: boolean;
  written: boolean;
  account_before: string | null;
  status_before: SubscriptionStatus | null;
  plan_before: string | null;
  past_due_before: Date | string | null;
  addons_before: SubscriptionAddon[] | null;
  seats_before: number | null;
  overage_item_before: boolean | null;
  account_after: string | null;
  status_after: SubscriptionStatus | null;
  plan_after: string | null;
  past_due_after: Date | string | null;
  addons_after: SubscriptionAddon[] | null;
  seats_after: number | null;
  overage_item_after: boolean | null;
  scheduled_change_reached_at: Date | string | null;
}

/** Runs the statement in `em`'s transaction (the event's, which must be open): see `APPLY_TO_KNOWN_SUBSCRIPTION`. */
export async function applyToKnownSubscription(
  em: EntityManager | PreparedSql,
  stripeCustomerId: string,
  stripeSubscriptionId: string,
  fields: SubscriptionFields,
  writtenAt: Date,
): Promise<KnownSubscriptionOutcome | null> {
  // The event's transaction: the ORM's, or one opened below it (`WebhookInbox.inClaimedTransaction`).
  const sql = typeof em === 'function' ? em : await preparedSqlIn(em);
  const [row] = await sql<StatementRow>(APPLY_TO_KNOWN_SUBSCRIPTION, [
    stripeCustomerId,
    stripeSubscriptionId,
    fields.status,
    fields.planKey,
    fields.priceId,
    fields.interval,
    fields.currentPeriodStart,
    fields.currentPeriodEnd,
    fields.cancelAtPeriodEnd,
    fields.canceledAt,
    fields.endedAt,
    fields.trialStart,
    fields.trialEnd,
    fields.scheduleId,
    fields.pendingPlanKey,
    fields.pendingInterval,
    fields.pendingChangeExpiresAt,
    JSON.stringify(fields.addons),
    fields.extraSeats,
    fields.creditsOverageItem,
    fields.stripeUpdatedAt,
    writtenAt,
  ]);
  if (!row?.known) return null;
  return {
    accountId: row.owner_account_id,
    before: planInputsOf(
      row.account_before,
      row.status_before,
      row.plan_before,
      row.seats_before,
      row.past_due_before,
      row.addons_before,
      row.overage_item_before,
    ),
    after: row.written
      ? planInputsOf(
          row.account_after,
          row.status_after,
          row.plan_after,
          row.seats_after,
          row.past_due_after,
          row.addons_after,
          row.overage_item_after,
        )
      : null,
    scheduledChangeReachedAt:
      row.scheduled_change_reached_at === null ? null : new Date(row.scheduled_change_reached_at),
  };
}

function planInputsOf(
  accountId: string | null,
  status: SubscriptionStatus | null,
  planKey: string | null,
  extraSeats: number | null,
  pastDueSince: Date | string | null,
  addons: SubscriptionAddon[] | null,
  creditsOverageItem: boolean | null,
): PlanInputs {
  return {
    accountId: accountId ?? '',
    status: status as SubscriptionStatus,
    planKey: planKey ?? '',
    extraSeats: Number(extraSeats ?? 0),
    pastDueSince: pastDueSince === null ? null : new Date(pastDueSince),
    addons: (addons ?? []).map(({ key, quantity }) => ({ key, quantity })),
    creditsOverageItem: creditsOverageItem === true,
  };
}
