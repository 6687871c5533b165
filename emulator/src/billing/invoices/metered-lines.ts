/**
 * Metered invoice lines: the meter's aggregation over the customer's events with
 * `period.start ≤ timestamp < period.end`, priced per unit or by tiers
 * (https://docs.stripe.com/billing/subscriptions/usage-based/pricing-models). A draft's metered lines are
 * computed again when it is finalized, so usage reported late for a closed period still lands on its invoice:
 * "All invoices have a default finalization grace period of 1 hour. During the finalization grace period, you
 * can continue to report usage for the previous billing period. During finalization, Stripe updates the
 * invoice to reflect the latest quantity" (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
 */
import type Stripe from 'stripe';
import { meterUsage } from '../../resources/meter-events';
import { type Emulator, idOf, wireDecimal } from '../context';
import { customerIdOf, type LineSpec } from './invoice-objects';
import { money, productName } from './line-text';
import { billableQuantity } from '../math';
import { isMetered, priceAmount, unitAmount } from '../pricing';
import { COLLECTIONS } from '../../core/collections';
import { priceInCurrency } from '../../resources/price-currency-options';

export interface MeteredLineArgs {
  price: Stripe.Price;
  customerId: string;
  period: { start: number; end: number };
  subscription: string;
  subscriptionItem: string;
}

function meteredDescription(emulator: Emulator, price: Stripe.Price, quantity: number): string {
  const pricing =
    price.billing_scheme === 'tiered' ? 'Tiered' : `at ${money(unitAmount(price), price.currency)}`;
  return `${quantity} × ${productName(emulator, price)} (${pricing})`;
}

/** One metered line for the usage of `args.period`. */
export function meteredLine(emulator: Emulator, args: MeteredLineArgs): LineSpec {
  const meter = args.price.recurring?.meter ?? null;
  const usage = meter ? meterUsage(emulator, meter, args.customerId, args.period.start, args.period.end) : 0;
  const quantity = billableQuantity(usage);
  return {
    amount: priceAmount(args.price, quantity),
    currency: args.price.currency,
    description: meteredDescription(emulator, args.price, quantity),
    period: args.period,
    price: args.price,
    quantity,
    proration: false,
    subscription: args.subscription,
    subscriptionItem: args.subscriptionItem,
    invoiceItem: null,
    metadata: {},
  };
}

/** The metered price a subscription-item line bills, if it bills one. */
function meteredPriceOf(emulator: Emulator, line: Stripe.InvoiceLineItem): Stripe.Price | null {
  if (line.parent?.type !== 'subscription_item_details') return null;
  const priceId = idOf(line.pricing?.price_details?.price ?? null);
  const price = priceId ? emulator.store.get(COLLECTIONS.price, priceId) : undefined;
  return price && isMetered(price) ? price : null;
}

/**
 * Recomputes the metered subscription-item lines of a draft from the meter events now known for each line's
 * period (invoice-item lines, e.g. usage billed when an item was dropped, stay as they were). Returns whether a
 * line changed; the caller recomputes totals.
 */
export function refreshMeteredLines(emulator: Emulator, invoice: Stripe.Invoice): boolean {
  let changed = false;
  for (const line of invoice.lines.data) {
    const price = meteredPriceOf(emulator, line);
    if (!price) continue;
    const fresh = meteredLine(emulator, {
      price: priceInCurrency(price, invoice.currency),
      customerId: customerIdOf(invoice),
      period: line.period,
      subscription: line.parent?.subscription_item_details?.subscription ?? '',
      subscriptionItem: line.parent?.subscription_item_details?.subscription_item ?? '',
    });
    if (fresh.quantity === line.quantity && fresh.amount === line.amount) continue;
    line.amount = fresh.amount;
    line.subtotal = fresh.amount;
    line.quantity = fresh.quantity;
    line.quantity_decimal = wireDecimal(String(fresh.quantity));
    line.description = fresh.description;
    changed = true;
  }
  return changed;
}
