/**
 * Builders for subscription-shaped objects under `2026-10-28.endive`: periods live on the items
 * (`items.data[].current_period_start/end`), not on the subscription; `billing_mode` defaults to
 * `flexible`.
 */
import type Stripe from 'stripe';
import { id } from '../context';
import { priceProductId } from '../pricing';

/** The legacy `plan` mirror of a recurring price that items still carry. */
export function planOf(price: Stripe.Price): Stripe.Plan {
  const r = price.recurring;
  return {
    id: price.id,
    object: 'plan',
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: price.billing_scheme,
    created: price.created,
    currency: price.currency,
    interval: r?.interval ?? 'month',
    interval_count: r?.interval_count ?? 1,
    livemode: false,
    metadata: price.metadata,
    meter: r?.meter ?? null,
    nickname: price.nickname,
    product: priceProductId(price),
    tiers_mode: price.tiers_mode,
    transform_usage: null,
    trial_period_days: r?.trial_period_days ?? null,
    usage_type: r?.usage_type ?? 'licensed',
  };
}

export function buildItem(args: {
  subscription: string;
  price: Stripe.Price;
  quantity: number | undefined;
  created: number;
  periodStart: number;
  periodEnd: number;
  metadata: Record<string, string>;
}): Stripe.SubscriptionItem {
  return {
    id: id('si'),
    object: 'subscription_item',
    billing_thresholds: null,
    created: args.created,
    current_period_end: args.periodEnd,
    current_period_start: args.periodStart,
    current_trial: null,
    discounts: [],
    metadata: args.metadata,
    plan: planOf(args.price),
    price: args.price,
    ...(args.quantity === undefined ? {} : { quantity: args.quantity }),
    subscription: args.subscription,
    tax_rates: [],
  };
}

export interface SubscriptionArgs {
  id: string;
  customer: string;
  currency: string;
  created: number;
  anchor: number;
  status: Stripe.Subscription.Status;
  trialStart: number | null;
  trialEnd: number | null;
  missingPaymentMethod: Stripe.Subscription.TrialSettings.EndBehavior.MissingPaymentMethod;
  defaultPaymentMethod: string | null;
  collectionMethod: Stripe.Subscription.CollectionMethod;
  daysUntilDue: number | null;
  cancelAt: number | null;
  cancelAtPeriodEnd: boolean;
  description: string | null;
  metadata: Record<string, string>;
  testClock: string | null;
}

export function buildSubscription(args: SubscriptionArgs): Stripe.Subscription {
  return {
    id: args.id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: args.anchor,
    billing_cycle_anchor_config: null,
    billing_mode: {
      flexible: { proration_discounts: 'included' },
      type: 'flexible',
      updated_at: args.created,
    },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: args.cancelAt,
    cancel_at_period_end: args.cancelAtPeriodEnd,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: args.collectionMethod,
    created: args.created,
    currency: args.currency,
    customer: args.customer,
    customer_account: null,
    days_until_due: args.daysUntilDue,
    default_payment_method: args.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: args.description,
    discounts: [],
    ended_at: null,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: 'self' },
    },
    items: {
      object: 'list',
      data: [],
      has_more: false,
      url: `/v1/subscription_items?subscription=${args.id}`,
    },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: args.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: 'off',
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: args.created,
    status: args.status,
    test_clock: args.testClock,
    transfer_data: null,
    trial_end: args.trialEnd,
    trial_settings: {
      end_behavior: { billing_cycle_anchor: null, missing_payment_method: args.missingPaymentMethod },
    },
    trial_start: args.trialStart,
  };
}

/** The subscription's current period, from its items (all items share it in this emulator). */
export function subscriptionPeriod(subscription: Stripe.Subscription): { start: number; end: number } {
  const first = subscription.items.data[0];
  if (!first) return { start: subscription.billing_cycle_anchor, end: subscription.billing_cycle_anchor };
  return { start: first.current_period_start, end: first.current_period_end };
}
