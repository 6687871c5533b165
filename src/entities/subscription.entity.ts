import { Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillingCustomer } from './billing-customer.entity';

/** Stripe's subscription statuses, as Stripe spells them. */
export const SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'canceled',
  'paused',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** Statuses in which a subscription still gives its plan (past_due only within the grace period, see issue 5). */
export const LIVE_STATUSES: readonly SubscriptionStatus[] = [
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'incomplete',
  'paused',
];

export const BILLING_INTERVALS = ['month', 'year'] as const;
export type BillingInterval = (typeof BILLING_INTERVALS)[number];

/**
 * An add-on item of the subscription as Stripe has it (ADR 0024): the add-on's key (its price's `coditect_addon`
 * metadata), the units bought, and the price it is billed at (integer minor units of `currency` per unit).
 */
export interface SubscriptionAddon {
  key: string;
  quantity: number;
  priceId: string;
  unitAmount: number;
  currency: string;
  interval: BillingInterval;
}

/** Our copy of one Stripe subscription, as of `stripeUpdatedAt`. */
@Entity({ tableName: 'subscription' })
@Index({ properties: ['accountId', 'status'] })
export class Subscription extends BaseEntity<
  | 'cancelAtPeriodEnd'
  | 'canceledAt'
  | 'trialStart'
  | 'trialEnd'
  | 'priceId'
  | 'currentPeriodStart'
  | 'currentPeriodEnd'
  | 'addons'
  | 'addonRemovals'
  | 'extraSeats'
  | 'creditsOverageItem'
> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeSubscriptionId!: string;

  @ManyToOne(() => BillingCustomer, { deleteRule: 'cascade' })
  customer!: BillingCustomer;

  /** Denormalised from the customer: every read is by account. */
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Enum({ items: () => SUBSCRIPTION_STATUSES, nativeEnumName: 'subscription_status' })
  status!: SubscriptionStatus;

  /** Key of the plan in plans/plans.yaml. */
  @Property({ type: 'string', length: 64 })
  planKey!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  priceId: string | null = null;

  @Enum({ items: () => BILLING_INTERVALS, nativeEnumName: 'billing_interval' })
  interval!: BillingInterval;

  @Property({ type: 'datetime', nullable: true })
  currentPeriodStart: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  currentPeriodEnd: Date | null = null;

  @Property({ type: 'boolean' })
  cancelAtPeriodEnd = false;

  @Property({ type: 'datetime', nullable: true })
  canceledAt: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  trialStart: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  trialEnd: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  endedAt: Date | null = null;

  /** When we first saw the subscription past due: the grace period (BILLING_GRACE_PERIOD_DAYS) runs from here. */
  @Property({ type: 'datetime', nullable: true })
  pastDueSince: Date | null = null;

  /** A plan change waiting for the period end (a Stripe subscription schedule), if any. */
  @Property({ type: 'string', length: 255, nullable: true })
  scheduleId: string | null = null;

  @Property({ type: 'string', length: 64, nullable: true })
  scheduledPlanKey: string | null = null;

  @Enum({ items: () => BILLING_INTERVALS, nativeEnumName: 'billing_interval', nullable: true })
  scheduledInterval: BillingInterval | null = null;

  @Property({ type: 'datetime', nullable: true })
  scheduledChangeAt: Date | null = null;

  /**
   * Seats bought beyond those the plan includes: the quantity of the subscription's extra-seats item (0 without
   * one, ADR 0024). The `seats` limit of a per-seat plan is its included seats plus these.
   */
  @Property({ type: 'integer', default: 0 })
  extraSeats = 0;

  /** Extra seats from the period end on, when seats were removed (a schedule phase); null when none are. */
  @Property({ type: 'integer', nullable: true })
  scheduledExtraSeats: number | null = null;

  /**
   * A change made now whose invoice waits for the customer (Stripe's `pending_update`: the bank asked to approve
   * the prorated charge): the plan it moves to once paid, and when Stripe discards it unpaid. Nothing of it is
   * provided before (ADR 0022).
   */
  @Property({ type: 'string', length: 64, nullable: true })
  pendingPlanKey: string | null = null;

  @Enum({ items: () => BILLING_INTERVALS, nativeEnumName: 'billing_interval', nullable: true })
  pendingInterval: BillingInterval | null = null;

  @Property({ type: 'datetime', nullable: true })
  pendingChangeExpiresAt: Date | null = null;

  /** The add-on items, as synced from Stripe's items (what entitlements add to the plan's). */
  @Property({ type: 'json', default: '[]' })
  addons: SubscriptionAddon[] = [];

  /**
   * Whether Stripe's subscription carries the `ai_credits` metered item (credits beyond the balance are billed on
   * it): one made before that price existed does not, and refuses them until it does (credit-terms.ts).
   */
  @Property({ type: 'boolean', default: false })
  creditsOverageItem = false;

  /**
   * Add-ons the customer removed: they stay until the period end, when the subscription schedule's next phase
   * goes on without them (like `scheduledPlanKey`, ours: Stripe's subscription does not say it).
   */
  @Property({ type: 'json', default: '[]' })
  addonRemovals: string[] = [];

  /**
   * Add-ons whose units go down at the period end (key → the units from then on, at least 1): the units paid for
   * stay until then, when the schedule's next phase carries the lower quantity (as `scheduledExtraSeats`).
   */
  @Property({ type: 'json', default: '{}' })
  addonUnitsAtPeriodEnd: Record<string, number> = {};

  /**
   * When we last read this state from Stripe (an API answer or a refetch on a webhook): a write only applies
   * if it was read later than what the row holds, so an older read never overwrites a newer one.
   */
  @Property({ type: 'datetime' })
  stripeUpdatedAt!: Date;
}
