/**
 * Multi-currency prices (https://docs.stripe.com/products-prices/how-products-and-prices-work#multiple-currencies):
 * `currency_options[<currency>][unit_amount | unit_amount_decimal | tax_behavior | tiers]` on a price, returned only
 * when expanded (`expand[]=currency_options`; the map also holds the price's own currency, as the Price object's
 * `currency_options` does). A subscription, Checkout Session or invoice in one of those currencies charges that
 * option's amounts (`priceInCurrency`).
 */
import type Stripe from 'stripe';
import { decimalString } from '../core/decimal';
import { invalidRequest } from '../core/errors';
import type { ParamReader } from '../core/params';

type Tiers = Stripe.Price.Tier[] | undefined;

function readOption(
  reader: ParamReader,
  billingScheme: Stripe.Price.BillingScheme,
  readTiers: (input: ParamReader) => Stripe.Price.Tier[],
): Stripe.Price.CurrencyOptions {
  const unit = reader.int('unit_amount');
  const unitDec = reader.decimal('unit_amount_decimal');
  const tiers = billingScheme === 'tiered' ? readTiers(reader) : undefined;
  if (billingScheme !== 'tiered' && unit === undefined && unitDec === undefined) {
    throw invalidRequest(
      `Missing required param: ${reader.name('unit_amount')}.`,
      reader.name('unit_amount'),
      'parameter_missing',
    );
  }
  if (unit !== undefined && unit < 0)
    throw invalidRequest('Invalid unit_amount: must be >= 0', reader.name('unit_amount'));
  return {
    custom_unit_amount: null,
    tax_behavior:
      reader.oneOf('tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const) ?? 'unspecified',
    ...(tiers ? { tiers } : {}),
    unit_amount:
      unit ?? (unitDec !== undefined && Number.isInteger(Number(unitDec)) ? Number(unitDec) : null),
    unit_amount_decimal:
      unit !== undefined ? decimalString(unit) : unitDec !== undefined ? decimalString(unitDec) : null,
  };
}

/** The base currency's own entry, from the price's top-level fields. */
function baseOption(price: Stripe.Price): Stripe.Price.CurrencyOptions {
  return {
    custom_unit_amount: price.custom_unit_amount,
    tax_behavior: price.tax_behavior,
    ...(price.tiers ? { tiers: price.tiers } : {}),
    unit_amount: price.unit_amount,
    unit_amount_decimal: price.unit_amount_decimal,
  };
}

/**
 * `currency_options` for a new price (or the options an update adds or replaces): the base currency's entry plus one
 * per `currency_options[<currency>]` hash. A hash for the base currency itself is refused.
 */
export function currencyOptionsFor(
  price: Stripe.Price,
  input: ParamReader,
  readTiers: (input: ParamReader) => Stripe.Price.Tier[],
): Record<string, Stripe.Price.CurrencyOptions> {
  const options: Record<string, Stripe.Price.CurrencyOptions> = {
    ...(price.currency_options ?? {}),
    [price.currency]: baseOption(price),
  };
  const hash = input.obj('currency_options');
  if (!hash) return options;
  for (const key of Object.keys(hash.raw)) {
    const currency = key.toLowerCase();
    if (!/^[a-z]{3}$/.test(currency))
      throw invalidRequest(`Invalid currency: ${key}`, `currency_options[${key}]`);
    if (currency === price.currency) {
      throw invalidRequest(
        `currency_options[${key}] cannot be the price's own currency (${price.currency}).`,
        `currency_options[${key}]`,
      );
    }
    const reader = hash.obj(key);
    if (reader) options[currency] = readOption(reader, price.billing_scheme, readTiers);
  }
  return options;
}

export function supportsCurrency(price: Stripe.Price, currency: string): boolean {
  return price.currency === currency || price.currency_options?.[currency] !== undefined;
}

/**
 * The price as charged in `currency`: its own fields for its currency, else the option's amounts (the id, product
 * and recurrence stay the price's). 400 when the price has no option for that currency.
 */
export function priceInCurrency(price: Stripe.Price, currency: string, param = 'price'): Stripe.Price {
  if (price.currency === currency) return price;
  const option = price.currency_options?.[currency];
  if (!option) {
    throw invalidRequest(
      `The price specified (${price.id}) does not support currency ${currency}; add it to the price's currency_options.`,
      param,
    );
  }
  const tiers: Tiers = option.tiers ?? price.tiers;
  return {
    ...price,
    currency,
    tax_behavior: option.tax_behavior ?? price.tax_behavior,
    ...(tiers ? { tiers } : {}),
    unit_amount: option.unit_amount,
    unit_amount_decimal: option.unit_amount_decimal,
  };
}
