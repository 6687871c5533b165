import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { CheckoutRecords } from '../services/checkout/checkout-records';
import type { Clock } from '../services/time/clock';
import type { TrialPolicy } from '../services/subscriptions/trial-policy';
import type { CustomerManager } from '../services/accounts/customer-manager';
import type { Disputes } from '../services/invoices/disputes';
import type { DuplicateSubscriptions } from '../services/subscriptions/duplicate-subscriptions';
import type { FeatureProvisioner } from '../services/subscriptions/feature-provisioner';
import type { InvoiceRefunds } from '../services/invoices/invoice-refunds';
import type { InvoiceSync } from '../services/invoice-sync';
import type { Logger } from '../logging/logger';
import type { PaymentMethodSync } from '../services/payment-method-sync';
import type { StripeClient } from '../services/stripe/stripe-client';
import type { SubscriptionSync } from '../services/subscription-sync';
import type { BillingNotifications } from './billing-notifications';

/** What handlers may use: Stripe (to refetch), and the services that write our copy of Stripe's state. */
export interface HandlerTools {
  stripe: StripeClient;
  /** Billing's "now": what a read of Stripe is stamped with (ADR 0005). */
  clock: Clock;
  customers: CustomerManager;
  subscriptions: SubscriptionSync;
  invoices: InvoiceSync;
  paymentMethods: PaymentMethodSync;
  provisioner: FeatureProvisioner;
  notifications: BillingNotifications;
  /** The Checkout Sessions we created: only those link a customer to an account. */
  checkouts: CheckoutRecords;
  /** One paid subscription per account: a second one is cancelled and refunded. */
  duplicates: DuplicateSubscriptions;
  /** What was refunded of an invoice's payments. */
  refunds: InvoiceRefunds;
  /** Chargebacks, recorded for the admins. */
  disputes: Disputes;
  /** One trial per account and per card: a Checkout trial on a card that had one ends at once. */
  trials: TrialPolicy;
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
}

/** The database half of handling an event, run inside the event's transaction (see `EffectResult`). */
export type Effect = (em: EntityManager, observedAt: Date) => Promise<string[] | EffectResult>;

/** An effect's answer as an `EffectResult` (a plain list: tell and provision every account in it). */
export function effectResultOf(answer: string[] | EffectResult): EffectResult {
  return Array.isArray(answer) ? { accounts: answer, provision: answer } : answer;
}

/**
 * One handler per event type. It first reads what the event is about from Stripe (outside any transaction:
 * Stripe is the source of truth, so the order of deliveries cannot matter), then returns the `Effect`.
 */
export type WebhookHandler = (event: Stripe.Event, tools: HandlerTools) => Promise<Effect>;

/** The event cannot be handled yet (e.g. its customer is not linked to an account yet): answer 500 so Stripe retries. */
export class RetryLaterError extends Error {}

/**
 * The event is not ours to apply, and never will be (a Checkout Session this service did not create): its
 * transaction rolls back, and it is kept in the inbox as `ignored` with the reason (visible to admins, and
 * replayable), answered 200 so Stripe stops sending it.
 */
export class NotOursError extends Error {}
