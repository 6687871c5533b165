/**
 * The currency a Checkout Session charges (https://docs.stripe.com/payments/checkout/localize-prices/manual-currency-prices:
 * a price's `currency_options` let one session charge another currency). The session's `currency` param, else the
 * customer's currency when every price offers it, else the first price's currency; each line is then priced in that
 * currency (the line keeps its Price; its amounts are the option's), and the hosted page shows them.
 */
import type Stripe from 'stripe';
import type { ParamReader } from '../../core/params';
import { priceInCurrency, supportsCurrency } from '../../resources/price-currency-options';
import { priceAmount } from '../pricing';

export function checkoutCurrency(
  input: ParamReader,
  customer: Stripe.Customer | null,
  lineItems: readonly Stripe.LineItem[],
): string | null {
  const prices = lineItems.flatMap((line) => (line.price ? [line.price] : []));
  if (prices.length === 0) return input.str('currency')?.toLowerCase() ?? null;
  const requested = input.str('currency')?.toLowerCase();
  if (requested) return requested;
  const customerCurrency = customer?.currency ?? null;
  if (customerCurrency && prices.every((price) => supportsCurrency(price, customerCurrency)))
    return customerCurrency;
  return prices[0].currency;
}

/** Re-prices every line in `currency` (400 naming `line_items[i][price]` when a price lacks that currency). */
export function priceLinesIn(lineItems: Stripe.LineItem[], currency: string): void {
  lineItems.forEach((line, i) => {
    if (!line.price) return;
    const charged = priceInCurrency(line.price, currency, `line_items[${i}][price]`);
    const amount = line.quantity === null ? 0 : priceAmount(charged, line.quantity);
    line.currency = currency;
    line.amount_subtotal = amount;
    line.amount_total = amount;
  });
}
