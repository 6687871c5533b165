import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { PreparedSql } from '../database/prepared-transaction';
import type { CustomerSync } from '../services/accounts/customer-sync';
import type { CheckoutSync } from '../services/checkout/checkout-sync';
import type { Clock } from '../services/time/clock';
import type { TrialPolicy } from '../services/subscriptions/trial-policy';
import type { Disputes } from '../services/invoices/disputes';
import type { DuplicateSubscriptions } from '../services/subscriptions/duplicate-subscriptions';
import type { FeatureProvisioner } from '../services/subscriptions/feature-provisioner';
import type { InvoiceRefunds } from '../services/invoices/invoice-refunds';
import type { CreditPackInvoices } from '../services/credits/credit-pack-invoices';
import type { InvoiceSync } from '../services/invoices/invoice-sync';
import type { Logger } from '../logging/logger';
import type { PaymentMethodSync } from '../services/invoices/payment-method-sync';
import type { StripeClient } from '../services/stripe/stripe-client';
import type { SubscriptionSync } from '../services/subscriptions/subscription-sync';
import type { BillingNotifications } from './billing-notifications';

/**
 * What handlers may use: Stripe (to refetch), and the services that own the rules and write our copy of
 * Stripe's state. A handler passes the event's transaction through to them; it never reads or writes itself.
 */
export interface HandlerTools {
  stripe: StripeClient;
  /** Billing's "now": what a read of Stripe is stamped with (ADR 0005). */
  clock: Clock;
  /** Which account a Stripe customer is, and its details. */
  customers: CustomerSync;
  subscriptions: SubscriptionSync;
  invoices: InvoiceSync;
  paymentMethods: PaymentMethodSync;
  provisioner: FeatureProvisioner;
  notifications: BillingNotifications;
  /** Completed Checkout Sessions: only those we created link a customer to an account. */
  checkouts: CheckoutSync;
  /** One paid subscription per account: a second one is cancelled and refunded. */
  duplicates: DuplicateSubscriptions;
  /** What was refunded of an invoice's payments. */
  refunds: InvoiceRefunds;
  /** Chargebacks, recorded for the admins. */
  disputes: Disputes;
  /** One trial per account and per card: a Checkout trial on a card that had one ends at once. */
  trials: TrialPolicy;
  /** Credit packs bought as invoices: granted once paid, their unspent credits removed when refunded. */
  creditPacks: CreditPackInvoices;
  logger: Logger;
}

/**
 * What an effect did: `accounts` are told after the commit; `provision` (a subset) are the accounts whose
 * entitlements may have changed, recomputed in the same transaction. An effect that cannot tell returns a
 * plain list of accounts: all of them are provisioned (issue 8: provisioning is 4 of an event's statements).
 */
export interface EffectResult {
  accounts: string[];
  provision: string[];
  /** Run once the event's transaction committed (never on a rollback): counting what it did, in metrics. */
  afterCommit?: Array<() => void>;
  /**
   * When the change the effect applied took effect, where the effect knows it better than the event's time: a
   * plan change scheduled for a renewal took effect at the renewal, whichever of the renewal's events brings it
   * first (an invoice finalized and paid an hour later, delivered before the subscription's own event). The
   * provisioning weighs the allowances from the earlier of the two.
   */
  changedAt?: Date | null;
}

/**
 * The calls on our services an event makes, run in the event's transaction `tx` (see `EffectResult`). An effect
 * may carry a `bare` form of itself, for the commonest case of its event (issue 14: the queue worker's hot path).
 */
export type Effect = ((tx: EntityManager, observedAt: Date) => Promise<string[] | EffectResult>) & {
  bare?: BareEffect;
};

/**
 * The same effect through statements of the event's transaction below the ORM (`sql`), when the services can
 * apply it so (a subscription we store, of a customer we know): its result, or null when it needs the ORM
 * after all. The processor then rolls the transaction back and runs the effect itself, as it would have; it
 * also does so when the result asks for provisioning, which is the ORM's.
 */
export type BareEffect = (sql: PreparedSql, observedAt: Date) => Promise<EffectResult | null>;

/** An effect that always answers an `EffectResult` (the parts handlers compose theirs of). */
export type DetailedEffect = (tx: EntityManager, observedAt: Date) => Promise<EffectResult>;

/** An effect's answer as an `EffectResult` (a plain list: tell and provision every account in it). */
export function effectResultOf(answer: string[] | EffectResult): EffectResult {
  return Array.isArray(answer) ? { accounts: answer, provision: answer } : answer;
}

/**
 * One handler per event type. It first reads what the event is about from Stripe (outside any transaction:
 * Stripe is the source of truth, so the order of deliveries cannot matter), then returns the `Effect`.
 */
export type WebhookHandler = (event: Stripe.Event, tools: HandlerTools) => Promise<Effect>;

/** How a handler says an event cannot be applied yet, or never: the rules that decide it are the services'. */
export { RetryLaterError } from '../services/accounts/customer-sync';
export { NotOursError } from '../services/checkout/checkout-sync';
