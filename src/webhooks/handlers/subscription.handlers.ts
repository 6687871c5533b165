import type Stripe from 'stripe';
import type { CustomerListing } from '../../services/subscriptions/duplicate-subscriptions';
import {
  type DetailedEffect,
  type Effect,
  effectResultOf,
  type HandlerTools,
  type WebhookHandler,
} from '../handler.types';

/**
 * customer.subscription.created, .updated and .deleted: whatever the event says, the subscription is read
 * from Stripe again and stored as it is now (canceled subscriptions can still be read), so a late or repeated
 * event cannot roll the state back.
 */
export const subscriptionChanged: WebhookHandler = async (event, tools) => {
  // One read of Stripe serves as the refetch and as the duplicates' listing: the customer's subscriptions,
  // this one among them (issue 14: one Stripe call per event instead of two). A subscription the listing does
  // not hold (no account metadata, or a customer with more than a page of them) is retrieved on its own.
  const listing = await tools.duplicates.list(event.data.object as Stripe.Subscription);
  const id = (event.data.object as Stripe.Subscription).id;
  const read = listing?.subscriptions.find((listed) => listed.id === id) ?? (await refetch(event, tools));
  // A Checkout trial on a card that already had one ends now (the rule is the trial policy's).
  const subscription = await tools.trials.settleTrialCard(read);
  const apply = applySubscription(subscription, tools);
  // A second live subscription of the account is cancelled and refunded here, before the transaction.
  const duplicates = await settleDuplicates(subscription, tools, listing);
  if (!duplicates) return withBare(apply, subscription, tools);
  return async (tx, observedAt) => {
    const applied = await apply(tx, observedAt);
    const settled = await duplicates(tx, observedAt);
    return {
      accounts: applied.accounts,
      provision: [...applied.provision, ...settled.provision],
      afterCommit: settled.afterCommit,
      changedAt: applied.changedAt,
    };
  };
};

/** customer.subscription.deleted: stored as canceled, and the customer is told. */
export const subscriptionDeleted: WebhookHandler = async (event, tools) => {
  const subscription = await refetch(event, tools);
  const apply = applySubscription(subscription, tools);
  return async (tx, observedAt) => {
    const result = effectResultOf(await apply(tx, observedAt));
    for (const accountId of result.accounts) {
      await tools.notifications.subscriptionCanceled(tx, accountId, subscription, event.id);
    }
    return result;
  };
};

/** customer.subscription.trial_will_end: three days before a trial ends; the customer is reminded. */
export const trialWillEnd: WebhookHandler = async (event, tools) => {
  const subscription = await refetch(event, tools);
  const apply = applySubscription(subscription, tools);
  return async (tx, observedAt) => {
    const result = effectResultOf(await apply(tx, observedAt));
    for (const accountId of result.accounts) {
      await tools.notifications.trialWillEnd(tx, accountId, subscription);
    }
    return result;
  };
};

/**
 * Settles the duplicates of the subscription's account in Stripe now (`DuplicateSubscriptions.settle`: the
 * rule and its Stripe calls; over `listing` when the handler listed the customer's subscriptions already), and
 * returns the database half: each cancelled duplicate stored and recorded (mailed and counted once). Null when
 * the account has no duplicate, the usual case.
 */
export async function settleDuplicates(
  subscription: Stripe.Subscription,
  tools: HandlerTools,
  listing?: CustomerListing | null,
): Promise<DetailedEffect | null> {
  const settled = await tools.duplicates.settle(subscription, listing);
  if (settled.length === 0) return null;
  return async (tx, observedAt) => {
    const customer = await tools.customers.ownerOfSubscription(tx, subscription);
    const afterCommit: Array<() => void> = [];
    for (const duplicate of settled) {
      await tools.subscriptions.applyLocked(tx, customer, duplicate.subscription, observedAt);
      afterCommit.push(...(await tools.duplicates.record(tx, customer, duplicate)));
    }
    return { accounts: [customer.accountId], provision: [customer.accountId], afterCommit };
  };
}

/**
 * `apply`, with its bare form (`BareEffect`): the row we store, of a customer we know, in its one statement on
 * the event's transaction below the ORM; a new row, an unknown customer or a plan that may have changed (to
 * provision) take `apply` itself.
 */
function withBare(apply: DetailedEffect, subscription: Stripe.Subscription, tools: HandlerTools): Effect {
  const effect: Effect = (tx, observedAt) => apply(tx, observedAt);
  effect.bare = async (sql, observedAt) => {
    const known = await tools.subscriptions.applyToKnownRow(sql, subscription, observedAt);
    if (!known || known.entitlementsMayChange) return null;
    return { accounts: [known.accountId], provision: [], changedAt: known.changedAt };
  };
  return effect;
}

function refetch(event: Stripe.Event, tools: HandlerTools): Promise<Stripe.Subscription> {
  const id = (event.data.object as Stripe.Subscription).id;
  return tools.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(id));
}

/**
 * Stores the subscription; the account is told in any case, but provisioned only when what decides its plan
 * may have changed (`SubscriptionSync.applyLocked`): most events about a subscription (a renewal, a new
 * invoice, a card) leave its plan alone, and recomputing the entitlements costs four statements. A row we
 * store, of a customer we know, takes one statement (`applyToKnownRow`, issue 14); the rest the ORM path.
 */
export function applySubscription(subscription: Stripe.Subscription, tools: HandlerTools): DetailedEffect {
  return async (tx, observedAt) => {
    const known = await tools.subscriptions.applyToKnownRow(tx, subscription, observedAt);
    if (known)
      return {
        accounts: [known.accountId],
        provision: known.entitlementsMayChange ? [known.accountId] : [],
        changedAt: known.changedAt,
      };
    const customer = await tools.customers.ownerOfSubscription(tx, subscription);
    const { entitlementsMayChange, changedAt } = await tools.subscriptions.applyLocked(
      tx,
      customer,
      subscription,
      observedAt,
    );
    return {
      accounts: [customer.accountId],
      provision: entitlementsMayChange ? [customer.accountId] : [],
      changedAt,
    };
  };
}
