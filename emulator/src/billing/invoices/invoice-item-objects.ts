/** Invoice items (`ii_…`): one-off amounts and proration adjustments waiting for an invoice. */
import type Stripe from 'stripe';
import { type Emulator, emit, id, now, wireDecimal } from '../context';
import { priceProductId, unitAmountDecimal } from '../pricing';
import { COLLECTIONS } from '../../core/collections';

export interface InvoiceItemArgs {
  customer: string;
  amount: number;
  currency: string;
  description: string | null;
  period: { start: number; end: number };
  price: Stripe.Price | null;
  quantity: number;
  proration: boolean;
  subscription: string | null;
  subscriptionItem: string | null;
  invoice: string | null;
  metadata: Record<string, string>;
  testClock: string | null;
  /** Discounts already taken into `amount` (a proration's). */
  discounts?: string[];
}

export function createInvoiceItem(emulator: Emulator, args: InvoiceItemArgs): Stripe.InvoiceItem {
  const invoiceItem: Stripe.InvoiceItem = {
    id: id('ii'),
    object: 'invoiceitem',
    amount: args.amount,
    currency: args.currency,
    customer: args.customer,
    customer_account: null,
    date: now(emulator, args.customer),
    description: args.description,
    discountable: !args.proration,
    discounts: args.discounts ?? [],
    invoice: args.invoice,
    livemode: false,
    metadata: args.metadata,
    net_amount: args.amount,
    parent: args.subscription
      ? {
          type: 'subscription_details',
          subscription_details: {
            subscription: args.subscription,
            ...(args.subscriptionItem ? { subscription_item: args.subscriptionItem } : {}),
          },
        }
      : null,
    period: args.period,
    pricing: args.price
      ? {
          type: 'price_details',
          price_details: { price: args.price.id, product: priceProductId(args.price) },
          unit_amount_decimal: wireDecimal(unitAmountDecimal(args.price)),
        }
      : {
          type: 'price_details',
          unit_amount_decimal: wireDecimal(String(args.amount / Math.max(1, args.quantity))),
        },
    proration: args.proration,
    proration_details: { credited_items: null, discount_amounts: [] },
    quantity: args.quantity,
    quantity_decimal: wireDecimal(String(args.quantity)),
    tax_rates: [],
    test_clock: args.testClock,
  };
  emulator.store.insert(COLLECTIONS.invoiceItem, invoiceItem);
  emit(emulator, 'invoiceitem.created', invoiceItem);
  return invoiceItem;
}
