/**
 * Pending updates (`payment_behavior=pending_if_incomplete`), as Stripe documents them
 * (https://docs.stripe.com/billing/subscriptions/pending-updates and
 * https://docs.stripe.com/billing/subscriptions/pending-updates-reference):
 * - an update that makes an invoice is applied only if that invoice is paid; when its payment fails or needs the
 *   customer's authentication, the subscription keeps its items and carries the changes in `pending_update`, its
 *   `latest_invoice` open, and "continues to cycle as if no update request was made";
 * - paid later (another card, the 3-D Secure challenge approved), "the changes are applied and the pending_update
 *   hash is cleared" (`customer.subscription.pending_update_applied`);
 * - unpaid by `expires_at` ("the trial end time or the current period end, whichever comes first", at most 23 hours
 *   after the update), "the invoice is voided and the pending update is discarded"
 *   (`customer.subscription.pending_update_expired`);
 * - "When you use pending_if_incomplete you can only pass the parameters supported by pending updates" (the SDK's
 *   `SubscriptionUpdateParams.payment_behavior`): the reference's list, with `metadata` and `discounts` since
 *   2026-05-27.dahlia (https://docs.stripe.com/changelog/dahlia/2026-05-27/pending-subscription-update-metadata)
 *   and `cancel_at_period_end` since 2026-09-30.endive
 *   (https://docs.stripe.com/changelog/endive/2026-09-30/scheduled-subscription-cancellation).
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import type { Params } from '../../core/params';
import { COLLECTIONS } from '../../core/collections';
import { previousAttributes } from '../../core/store';
import { type Emulator, emit, idOf, now } from '../context';
import { onInvoice } from '../hooks';
import { customerIdOf, subscriptionIdOfInvoice, voidInvoice } from '../invoices/invoices';
import { addIntervals } from '../math';
import { recurringOf } from '../pricing';
import { subscriptionPeriod } from './subscription-objects';
import {
  billDroppedMeteredUsage,
  droppedMeteredItems,
  restartSwappedMeteredItems,
} from './subscription-lines';
import { saveSubscription } from './subscription-state';

/** "If these times are greater than 23 hours from the time the update is made, … 23 hours after the update call." */
export const PENDING_UPDATE_LIFETIME_SECONDS = 23 * 3600;

/** The update subscription endpoint's parameters a pending update takes (the reference, and the changelogs above). */
const SUBSCRIPTION_PARAMS = new Set([
  'expand',
  'payment_behavior',
  'proration_behavior',
  'proration_date',
  'billing_cycle_anchor',
  'items',
  'trial_end',
  'trial_from_plan',
  'add_invoice_items',
  'metadata',
  'discounts',
  'cancel_at_period_end',
]);

/** The create and update subscription item endpoints' (`subscription` names the subscription of a new item). */
const ITEM_ENDPOINT_PARAMS = new Set([
  'expand',
  'payment_behavior',
  'proration_behavior',
  'proration_date',
  'price',
  'plan',
  'quantity',
  'discounts',
  'metadata',
  'subscription',
]);

/** Within `items[i]`: which item (`id`, `deleted`) and its new `price` and `quantity` (and discounts, metadata). */
const ITEM_PARAMS = new Set(['id', 'deleted', 'price', 'plan', 'quantity', 'discounts', 'metadata']);

function unsupported(param: string): Error {
  return invalidRequest(
    `You can only pass the parameters supported by pending updates when \`payment_behavior\` is \`pending_if_incomplete\`; \`${param}\` is not one of them. See https://docs.stripe.com/billing/subscriptions/pending-updates-reference#supported-attributes.`,
    param,
  );
}

/** 400 for a parameter a pending update does not take (`POST /v1/subscriptions/:id`). */
export function refuseOutsidePendingUpdate(raw: Params): void {
  for (const key of Object.keys(raw)) if (!SUBSCRIPTION_PARAMS.has(key)) throw unsupported(key);
  const items = raw.items;
  const list = Array.isArray(items) ? items : items && typeof items === 'object' ? Object.values(items) : [];
  list.forEach((item, i) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) return;
    for (const key of Object.keys(item)) if (!ITEM_PARAMS.has(key)) throw unsupported(`items[${i}][${key}]`);
  });
}

/** The same for `POST /v1/subscription_items[/:id]`. */
export function refuseOutsidePendingItemUpdate(raw: Params): void {
  for (const key of Object.keys(raw)) if (!ITEM_ENDPOINT_PARAMS.has(key)) throw unsupported(key);
}

/** "Pending updates aren't supported when the subscription's collection_method is send_invoice." */
export function refusePendingUpdateOf(subscription: Stripe.Subscription): void {
  if (subscription.collection_method !== 'send_invoice') return;
  throw invalidRequest(
    'Pending updates are not supported for subscriptions with `collection_method=send_invoice`.',
    'payment_behavior',
  );
}

/** What a pending update will change once its invoice is paid. */
export interface PendingChange {
  items: Stripe.SubscriptionItem[];
  /** A new period starts at this time when applied (a reset billing cycle, a new interval). */
  billingCycleAnchor: number | null;
  /** Merged into the subscription's metadata when applied. */
  metadata: Record<string, string> | null;
  cancelAtPeriodEnd: boolean | null;
}

/**
 * Keeps `change` in `pending_update` and lets `bill` make and charge its invoice (which fails: the caller checked
 * the card). The subscription otherwise stays as it is; `customer.subscription.updated` tells of the pending update.
 */
export function holdUntilPaid(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  change: PendingChange,
  bill: () => void,
): Stripe.Subscription {
  const at = now(emulator, customerIdOf(subscription));
  const before = structuredClone(subscription);
  subscription.pending_update = {
    billing_cycle_anchor: change.billingCycleAnchor,
    cancel_at_period_end: change.cancelAtPeriodEnd,
    discount: null,
    discounts: null,
    expires_at: expiryOf(subscription, at),
    metadata: change.metadata,
    subscription_items: change.items,
    trial_end: null,
    trial_from_plan: null,
  };
  // Set before the invoice is charged: its failed payment must see the update it belongs to (no past due).
  saveSubscription(emulator, subscription);
  bill();
  emit(emulator, 'customer.subscription.updated', subscription, previousAttributes(before, subscription));
  return subscription;
}

function expiryOf(subscription: Stripe.Subscription, at: number): number {
  const ends = [at + PENDING_UPDATE_LIFETIME_SECONDS, subscriptionPeriod(subscription).end];
  if (subscription.status === 'trialing' && subscription.trial_end !== null)
    ends.push(subscription.trial_end);
  return Math.min(...ends);
}

/** The subscription whose pending update `invoice` pays, if it is one. */
export function pendingUpdateOfInvoice(
  emulator: Emulator,
  invoice: Stripe.Invoice,
): Stripe.Subscription | null {
  const subscriptionId = subscriptionIdOfInvoice(invoice);
  const subscription = subscriptionId
    ? emulator.store.get(COLLECTIONS.subscription, subscriptionId)
    : undefined;
  if (!subscription?.pending_update || idOf(subscription.latest_invoice) !== invoice.id) return null;
  return subscription;
}

/** Paid: the changes are applied and `pending_update` cleared. */
function applyPendingUpdate(emulator: Emulator, subscription: Stripe.Subscription): void {
  const pending = subscription.pending_update as Stripe.Subscription.PendingUpdate;
  const at = now(emulator, customerIdOf(subscription));
  const before = structuredClone(subscription);
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    if (pending.subscription_items) s.items.data = pending.subscription_items;
    if (pending.billing_cycle_anchor !== null) {
      const anchor = pending.billing_cycle_anchor;
      const { interval, count } = recurringOf(s.items.data[0].price);
      s.billing_cycle_anchor = anchor;
      for (const item of s.items.data) {
        item.current_period_start = anchor;
        item.current_period_end = addIntervals(anchor, interval, count, 1);
      }
    }
    // "the metadata is merged into the existing subscription metadata using merge semantics"
    if (pending.metadata) s.metadata = { ...s.metadata, ...pending.metadata };
    if (pending.cancel_at_period_end !== null) {
      s.cancel_at_period_end = pending.cancel_at_period_end;
      s.cancel_at = pending.cancel_at_period_end ? subscriptionPeriod(s).end : null;
    }
    s.pending_update = null;
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  emit(emulator, 'customer.subscription.pending_update_applied', obj);
  // Metered items the update drops bill their usage so far (the next invoice carries it), as an update made at once.
  restartSwappedMeteredItems(emulator, before.items.data, obj.items.data, at);
  billDroppedMeteredUsage(
    emulator,
    before,
    droppedMeteredItems(before.items.data, obj.items.data),
    subscriptionPeriod(before),
    at,
  );
}

/** `expires_at` passed unpaid: the invoice is voided and the pending update discarded. */
export function expirePendingUpdate(emulator: Emulator, subscription: Stripe.Subscription): void {
  const invoiceId = idOf(subscription.latest_invoice);
  const invoice = invoiceId ? emulator.store.get(COLLECTIONS.invoice, invoiceId) : undefined;
  if (invoice && (invoice.status === 'open' || invoice.status === 'uncollectible'))
    voidInvoice(emulator, invoice);
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.pending_update = null;
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  emit(emulator, 'customer.subscription.pending_update_expired', obj);
}

onInvoice({
  paid: (emulator, invoice) => {
    const subscription = pendingUpdateOfInvoice(emulator, invoice);
    if (subscription) applyPendingUpdate(emulator, subscription);
  },
});
