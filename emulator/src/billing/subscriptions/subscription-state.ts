/** A stored subscription and the billing engine's own state for it. */
import type Stripe from 'stripe';
import { type Emulator } from '../context';
import { COLLECTIONS } from '../../core/collections';

/** Private engine state per subscription. */
export interface SubscriptionState {
  id: string;
  trialWillEndSent: boolean;
  incompleteExpiresAt: number | null;
}

export interface ItemInput {
  price: Stripe.Price;
  quantity: number | undefined;
  metadata: Record<string, string>;
}

export type ProrationBehavior = 'create_prorations' | 'always_invoice' | 'none';
export type PaymentBehavior =
  | 'allow_incomplete'
  | 'default_incomplete'
  | 'error_if_incomplete'
  | 'pending_if_incomplete';

export function requireSubscription(emulator: Emulator, subscriptionId: string): Stripe.Subscription {
  return emulator.store.require(COLLECTIONS.subscription, subscriptionId, 'subscription');
}

export function subscriptionState(emulator: Emulator, subscriptionId: string): SubscriptionState {
  const s = emulator.store.get(COLLECTIONS.subscriptionState, subscriptionId);
  if (s) return s;
  const fresh: SubscriptionState = { id: subscriptionId, trialWillEndSent: false, incompleteExpiresAt: null };
  emulator.store.put(COLLECTIONS.subscriptionState, fresh);
  return fresh;
}

export function saveSubscription(emulator: Emulator, subscription: Stripe.Subscription): void {
  subscription.items.has_more = false;
  emulator.store.put(COLLECTIONS.subscription, subscription);
}

declare module '../../core/collections' {
  interface CollectionRecords {
    _billing_sub_state: SubscriptionState;
  }
}
