/**
 * When the customer portal waits for the period end before switching a plan: the configuration's
 * `features.subscription_update.schedule_at_period_end.conditions` — "When any condition is true,
 * the update will be scheduled at the end of the current period" (the SDK's
 * `BillingPortal.Configuration` docs; https://docs.stripe.com/customer-management/configure-portal#downgrades):
 * `decreasing_item_amount` — the item would cost less per period (a cheaper price or fewer units);
 * `shortening_interval` — the item would renew more often (yearly → monthly).
 */
import type Stripe from 'stripe';
import { priceAmount, recurringOf } from '../pricing';

type Condition = Stripe.BillingPortal.Configuration.Features.SubscriptionUpdate.ScheduleAtPeriodEnd.Condition;

export interface ItemChoice {
  price: Stripe.Price;
  quantity: number;
}

/** 365.2425 / 12: only to compare a day- or week-based interval with a month-based one. */
const AVERAGE_MONTH_DAYS = 30.436875;

/** An interval in whole months (month, year) or whole days (day, week). */
function intervalLength(price: Stripe.Price): { unit: 'month' | 'day'; count: number } {
  const { interval, count } = recurringOf(price);
  if (interval === 'year') return { unit: 'month', count: 12 * count };
  if (interval === 'month') return { unit: 'month', count };
  if (interval === 'week') return { unit: 'day', count: 7 * count };
  return { unit: 'day', count };
}

function isShorterInterval(next: Stripe.Price, current: Stripe.Price): boolean {
  const a = intervalLength(next);
  const b = intervalLength(current);
  if (a.unit === b.unit) return a.count < b.count;
  const days = (x: { unit: 'month' | 'day'; count: number }): number =>
    x.unit === 'day' ? x.count : x.count * AVERAGE_MONTH_DAYS;
  return days(a) < days(b);
}

export function switchWaitsForPeriodEnd(
  conditions: readonly Condition[],
  current: ItemChoice,
  next: ItemChoice,
): boolean {
  return conditions.some((condition) => {
    if (condition.type === 'decreasing_item_amount') {
      return priceAmount(next.price, next.quantity) < priceAmount(current.price, current.quantity);
    }
    if (condition.type === 'shortening_interval') return isShorterInterval(next.price, current.price);
    return false;
  });
}
