import type Stripe from 'stripe';
import {
  itemChangesFor,
  itemRoleOf,
  planItemOf,
  seatsItemOf,
} from '../../src/services/subscriptions/subscription-items';

/** A subscription item with only what the role functions read (the rest of Stripe's shape is irrelevant here). */
function item(id: string, metadata: Record<string, string>, usage: 'licensed' | 'metered' = 'licensed') {
  return {
    id,
    quantity: usage === 'metered' ? undefined : 1,
    price: { id: `price_${id}`, metadata, recurring: { usage_type: usage } },
  } as unknown as Stripe.SubscriptionItem;
}

function subscriptionOf(...items: Stripe.SubscriptionItem[]): Stripe.Subscription {
  return { id: 'sub_1', items: { data: items } } as unknown as Stripe.Subscription;
}

const seats = item('seats', { coditect_seats_for: 'professional' });
const addon = item('addon', { coditect_addon: 'sso' });
const plan = item('plan', { coditect_plan: 'professional' });
const overage = item('overage', { coditect_metric: 'ai_requests' }, 'metered');

describe('subscription item roles (ADR 0024)', () => {
  it('reads each role from the price metadata, metered prices being overage', () => {
    expect([plan, seats, addon, overage].map(itemRoleOf)).toEqual(['plan', 'seats', 'addon', 'overage']);
    expect(itemRoleOf(item('custom', {}))).toBeNull();
  });

  it('the plan item is the one with coditect_plan, whichever Stripe lists first', () => {
    const subscription = subscriptionOf(seats, addon, overage, plan);
    expect(planItemOf(subscription)?.id).toBe('plan');
    expect(seatsItemOf(subscription)?.id).toBe('seats');
  });

  it('falls back to the first licensed item without a role (old subscriptions, custom enterprise prices)', () => {
    const custom = item('custom', {});
    expect(planItemOf(subscriptionOf(overage, seats, custom))?.id).toBe('custom');
    expect(planItemOf(subscriptionOf(overage, seats))).toBeUndefined();
  });

  it('a plan change moves the plan item and the overage items, and keeps seats and add-ons', () => {
    const changes = itemChangesFor(subscriptionOf(seats, plan, addon, overage), 'price_new', [
      'price_metered',
    ]);
    expect(changes).toEqual([
      { id: 'plan', price: 'price_new', quantity: 1 },
      { id: 'overage', deleted: true },
      { price: 'price_metered' },
    ]);
  });
});
