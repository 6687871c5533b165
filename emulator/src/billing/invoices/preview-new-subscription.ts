/**
 * `create_preview` for a subscription that does not exist yet: `customer` + `subscription_details[items]`
 * ("The subscription creation or modification params to apply as a preview", the SDK's InvoiceCreatePreviewParams),
 * previewing the first invoice such a subscription would get (a full first period from now, as
 * `create-subscription.ts` bills it; no trial), belonging to no subscription yet (`parent` null). Used when the
 * customer has no subscription to preview a change of.
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import type { ParamReader } from '../../core/params';
import { type Emulator, idOf } from '../context';
import { addIntervals } from '../math';
import { isMetered, recurringOf } from '../pricing';
import { licensedLines } from '../subscriptions/subscription-lines';
import { buildItem, buildSubscription } from '../subscriptions/subscription-objects';
import { readItemChanges } from '../subscriptions/subscriptions-routes';
import type { LineSpec } from './invoice-objects';
import { subscriptionCurrency } from '../currency/subscription-currency';

export interface NewSubscriptionPreview {
  subscription: Stripe.Subscription;
  lines: LineSpec[];
}

export function newSubscriptionPreview(
  emulator: Emulator,
  customer: Stripe.Customer,
  details: ParamReader,
  at: number,
  /** `currency`: one the prices offer (`currency_options`); default as creating the subscription chooses. */
  currency?: string,
): NewSubscriptionPreview {
  const changes = readItemChanges(emulator, details.objArray('items') ?? []);
  const prices = changes.map((change, i) => {
    if (!change.price || change.id) {
      throw invalidRequest(
        `Missing required param: subscription_details[items][${i}][price].`,
        `subscription_details[items][${i}][price]`,
        'parameter_missing',
      );
    }
    return { price: change.price, quantity: change.quantity };
  });
  if (prices.length === 0)
    throw invalidRequest(
      'Missing required param: subscription_details[items].',
      'subscription_details[items]',
      'parameter_missing',
    );
  const { interval, count } = recurringOf(prices[0].price);
  const period = { start: at, end: addIntervals(at, interval, count, 1) };
  const subscription = buildSubscription({
    id: 'sub_preview',
    customer: customer.id,
    currency: subscriptionCurrency(
      emulator,
      customer,
      prices.map((item) => item.price),
      currency,
    ),
    created: at,
    anchor: at,
    status: 'incomplete',
    trialStart: null,
    trialEnd: null,
    missingPaymentMethod: 'create_invoice',
    defaultPaymentMethod: null,
    collectionMethod: 'charge_automatically',
    daysUntilDue: null,
    cancelAt: null,
    cancelAtPeriodEnd: false,
    description: null,
    metadata: {},
    testClock: idOf(customer.test_clock),
  });
  subscription.items.data = prices.map(({ price, quantity }) =>
    buildItem({
      subscription: subscription.id,
      price,
      quantity: isMetered(price) ? undefined : (quantity ?? 1),
      created: at,
      periodStart: period.start,
      periodEnd: period.end,
      metadata: {},
    }),
  );
  const lines = licensedLines(emulator, subscription, period).map((line) => ({
    ...line,
    subscription: null,
  }));
  return { subscription, lines };
}
