/**
 * Discounts on `POST /v1/invoices/create_preview`: its `discounts` parameter ("The coupons to redeem into discounts
 * for the invoice preview. If not specified, inherits the discount from the subscription or customer", the SDK's
 * InvoiceCreatePreviewParams) is checked like a real redemption but nothing is redeemed or stored; without it the
 * subscription's discounts in effect at the previewed invoice's date apply.
 */
import type Stripe from 'stripe';
import type { ParamReader } from '../../core/params';
import type { Emulator } from '../context';
import type { AppliedDiscount } from './amounts';
import { subscriptionDiscountsAt } from './invoice-discounts';
import { buildDiscount, readDiscountRequests } from './redeem';

export interface PreviewFacts {
  customer: Stripe.Customer;
  subscription: Stripe.Subscription | null;
  currency: string;
  /** The previewed lines' amount before discounts (for `restrictions.minimum_amount`). */
  amount: number;
  /** When the previewed invoice would be made. */
  at: number;
}

export function previewDiscounts(
  emulator: Emulator,
  input: ParamReader,
  facts: PreviewFacts,
): AppliedDiscount[] {
  const { customer, subscription, currency, amount, at } = facts;
  if (!input.has('discounts')) return subscription ? subscriptionDiscountsAt(emulator, subscription, at) : [];
  const requests = readDiscountRequests(emulator, input.objArray('discounts') ?? [], {
    customer,
    currency,
    amount,
  });
  const owner = { customer: customer.id, subscription: subscription?.id ?? null, checkoutSession: null };
  return requests.map((request) => ({
    coupon: request.coupon,
    discount: request.existing ?? buildDiscount(request, owner, at),
  }));
}
