/** How invoice lines name products and amounts, in Stripe's wording ("1 × Pro (at $15.00 / month)"). */
import type Stripe from 'stripe';
import { type Emulator } from '../context';
import { priceProductId } from '../pricing';
import { COLLECTIONS } from '../../core/collections';

export function productName(emulator: Emulator, price: Stripe.Price): string {
  const product = emulator.store.get(COLLECTIONS.product, priceProductId(price));
  return product?.name ?? price.nickname ?? price.id;
}

/** `$15.00`, `€9.50`, or `12.00 CHF` for currencies without a symbol here. */
export function money(cents: number, currency: string): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const symbol = currency === 'usd' ? '$' : currency === 'eur' ? '€' : currency === 'gbp' ? '£' : '';
  return `${sign}${symbol}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}${symbol ? '' : ` ${currency.toUpperCase()}`}`;
}
