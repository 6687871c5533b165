import Stripe from 'stripe';
import { syncKey } from './catalog-keys';
import { idOf } from '../services/stripe/expandable';
import type { SyncReport } from './catalog-report';

/**
 * Every price quotes the net amount: Stripe Tax adds tax on top (ADR 0024: B2B SaaS quotes net prices). Set on
 * every price whether or not `STRIPE_TAX` is on, since Stripe lets a price's tax behaviour be set only once.
 */
export const TAX_BEHAVIOR = 'exclusive' as const;

/** What the catalog wants the price under one lookup key to be. */
export interface DesiredPrice {
  lookupKey: string;
  productId: string;
  /** The catalog's currencies: the first is the price's own `currency`, each other one a `currency_options` entry. */
  currencies: readonly string[];
  /** `once`: a one-time price (a credit pack), bought outright, without `recurring`. Only with a licensed amount. */
  interval: 'month' | 'year' | 'once';
  /**
   * Per currency: a flat amount per period in integer minor units (plans), or a per-unit decimal of minor units
   * on a meter (overage).
   */
  amount:
    | { kind: 'licensed'; cents: Readonly<Record<string, number>> }
    | { kind: 'metered'; unitAmountsDecimal: Readonly<Record<string, string>>; meterId: string };
  nickname: string;
  /** `coditect_plan` / `coditect_metric`: maps the price back to the catalog after its lookup key has moved on. */
  metadata: Record<string, string>;
}

/** The current holder of each lookup key (Stripe allows at most 10 per list call). */
export async function pricesByLookupKey(
  stripe: Stripe,
  lookupKeys: readonly string[],
): Promise<Map<string, Stripe.Price>> {
  const found = new Map<string, Stripe.Price>();
  for (let start = 0; start < lookupKeys.length; start += 10) {
    const chunk = lookupKeys.slice(start, start + 10);
    // `currency_options` is includable: Stripe returns it only when expanded.
    const listed = stripe.prices.list({ lookup_keys: chunk, limit: 100, expand: ['data.currency_options'] });
    for await (const price of listed) {
      if (price.lookup_key) found.set(price.lookup_key, price);
    }
  }
  return found;
}

/**
 * Makes the price under a lookup key match; returns the id that holds the key afterwards. Prices are never
 * edited: Stripe freezes amounts, and subscribers on the old amount must keep it. A different amount in any
 * currency (or product, interval, meter, set of currencies) creates a new price that takes the lookup key over
 * (`transfer_lookup_key`), and the old one is archived so nobody new can subscribe to it.
 */
export async function syncPrice(
  stripe: Stripe,
  current: Stripe.Price | undefined,
  desired: DesiredPrice,
  report: SyncReport,
): Promise<string> {
  const what = describe(desired);
  if (current && matches(current, desired)) {
    if (current.tax_behavior !== TAX_BEHAVIOR) return makeExclusive(stripe, current, what, report);
    if (current.active) {
      report.add('unchanged', 'price', current.id, what);
      return current.id;
    }
    // Someone archived it by hand; the file still offers it, so offer it again (its terms are unchanged).
    await stripe.prices.update(
      current.id,
      { active: true },
      {
        idempotencyKey: syncKey(`price:reactivate:${current.id}`, { active: true }),
      },
    );
    report.add('updated', 'price', current.id, `${what} (reactivated)`);
    return current.id;
  }

  const params = createParams(desired, current);
  const created = await stripe.prices.create(params, {
    idempotencyKey: syncKey(
      `price:${desired.lookupKey}:${amountsKey(desired)}:replaces:${current?.id ?? 'none'}`,
      JSON.parse(JSON.stringify(params)),
    ),
  });
  report.add('created', 'price', created.id, what);

  if (current?.active) {
    await stripe.prices.update(
      current.id,
      { active: false },
      {
        idempotencyKey: syncKey(`price:archive:${current.id}:replaced-by:${created.id}`, { active: false }),
      },
    );
    report.add(
      'archived',
      'price',
      current.id,
      `${desired.lookupKey} ${describeExisting(current)} (replaced by ${created.id})`,
    );
  }
  return created.id;
}

/**
 * The base currency's amount on the price, every other currency in `currency_options`
 * (https://docs.stripe.com/products-prices/pricing-models#multicurrency: "currency_options … with a
 * unit_amount or unit_amount_decimal" per currency, on the same price).
 */
function createParams(desired: DesiredPrice, current: Stripe.Price | undefined): Stripe.PriceCreateParams {
  const [base, ...others] = desired.currencies as [string, ...string[]];
  const amount = desired.amount;
  return {
    lookup_key: desired.lookupKey,
    currency: base,
    product: desired.productId,
    nickname: desired.nickname,
    metadata: desired.metadata,
    tax_behavior: TAX_BEHAVIOR,
    ...(amount.kind === 'licensed'
      ? {
          unit_amount: amount.cents[base],
          ...(desired.interval === 'once'
            ? {}
            : { recurring: { interval: desired.interval, usage_type: 'licensed' as const } }),
        }
      : {
          unit_amount_decimal: decimalOf(amount.unitAmountsDecimal, base),
          recurring: { interval: recurringInterval(desired), usage_type: 'metered', meter: amount.meterId },
        }),
    ...(others.length > 0
      ? {
          currency_options: Object.fromEntries(
            others.map((currency) => [
              currency,
              {
                tax_behavior: TAX_BEHAVIOR,
                ...(amount.kind === 'licensed'
                  ? { unit_amount: amount.cents[currency] }
                  : { unit_amount_decimal: unencodedDecimal(amount.unitAmountsDecimal[currency] ?? '0') }),
              },
            ]),
          ),
        }
      : {}),
    ...(current ? { transfer_lookup_key: true } : {}),
  };
}

function recurringInterval(desired: DesiredPrice): 'month' | 'year' {
  if (desired.interval === 'once') throw new Error(`${desired.lookupKey}: a metered price recurs`);
  return desired.interval;
}

function decimalOf(amounts: Readonly<Record<string, string>>, currency: string): Stripe.Decimal {
  return Stripe.Decimal.from(amounts[currency] ?? '0');
}

/**
 * stripe-node 23.1's request schema declares `currency_options` an array while the API takes (and answers) a hash
 * keyed by currency, so the SDK neither encodes a `Decimal` inside it (the emulator, like Stripe, then sees an
 * object where a string belongs: "Invalid string: currency_options[eur][unit_amount_decimal]") nor decodes one
 * coming back. The decimal is sent as the string the API wants; the type still says `Decimal`.
 */
function unencodedDecimal(text: string): Stripe.Decimal {
  return Stripe.Decimal.from(text).toString() as unknown as Stripe.Decimal;
}

/** Equal decimals, whether the SDK decoded the field (`Decimal`) or left it the API's string (`currency_options`). */
function sameDecimal(found: Stripe.Decimal | string | null | undefined, wanted: string): boolean {
  return (
    found !== null &&
    found !== undefined &&
    Stripe.Decimal.from(String(found)).eq(Stripe.Decimal.from(wanted))
  );
}

/**
 * A price made before tax (`unspecified`) is set to exclusive in place, the one change Stripe allows: "Once
 * specified as either inclusive or exclusive, it cannot be changed"
 * (https://docs.stripe.com/api/prices/update#update_price-tax_behavior). It is reactivated too if archived by hand.
 */
async function makeExclusive(
  stripe: Stripe,
  current: Stripe.Price,
  what: string,
  report: SyncReport,
): Promise<string> {
  const params: Stripe.PriceUpdateParams = {
    tax_behavior: TAX_BEHAVIOR,
    ...(current.active ? {} : { active: true }),
  };
  await stripe.prices.update(current.id, params, {
    idempotencyKey: syncKey(`price:tax-behavior:${current.id}`, params),
  });
  report.add('updated', 'price', current.id, `${what} (tax_behavior ${TAX_BEHAVIOR})`);
  return current.id;
}

function matches(price: Stripe.Price, desired: DesiredPrice): boolean {
  // An inclusive price cannot become exclusive: a new price takes its lookup key.
  if (price.tax_behavior === 'inclusive') return false;
  if (!sameSchedule(price, desired)) return false;
  if (price.currency !== desired.currencies[0] || idOf(price.product) !== desired.productId) return false;
  if (price.billing_scheme !== 'per_unit') return false;
  const { amount } = desired;
  // A currency Stripe offers that the file no longer lists is a difference too: nobody new may pay in it.
  const offered = Object.keys(price.currency_options ?? {}).filter((currency) => currency !== price.currency);
  const wanted = desired.currencies.slice(1);
  if (offered.length !== wanted.length || wanted.some((currency) => !offered.includes(currency)))
    return false;
  return desired.currencies.every((currency) => {
    const option = currency === price.currency ? price : price.currency_options?.[currency];
    if (!option) return false;
    if (amount.kind === 'licensed') return option.unit_amount === amount.cents[currency];
    return sameDecimal(option.unit_amount_decimal, amount.unitAmountsDecimal[currency] ?? '0');
  });
}

/** One-time for a pack; otherwise the interval, usage type and meter the catalog says. */
function sameSchedule(price: Stripe.Price, desired: DesiredPrice): boolean {
  const recurring = price.recurring;
  if (desired.interval === 'once') return price.type === 'one_time' && !recurring;
  if (!recurring || recurring.interval !== desired.interval || recurring.interval_count !== 1) return false;
  const { amount } = desired;
  if (amount.kind === 'licensed') return recurring.usage_type === 'licensed';
  return recurring.usage_type === 'metered' && recurring.meter === amount.meterId;
}

/** `1900usd-1800eur`: what the price charges, for its idempotency key. */
function amountsKey(desired: DesiredPrice): string {
  const { amount } = desired;
  const of = (currency: string) =>
    amount.kind === 'licensed' ? amount.cents[currency] : amount.unitAmountsDecimal[currency];
  return desired.currencies.map((currency) => `${of(currency)}${currency}`).join('-');
}

/** `1900 usd, 1800 eur` or `1/unit usd, 1/unit eur`. */
function amountsText(desired: DesiredPrice): string {
  const { amount } = desired;
  return desired.currencies
    .map((currency) =>
      amount.kind === 'licensed'
        ? `${amount.cents[currency]} ${currency}`
        : `${amount.unitAmountsDecimal[currency]}/unit ${currency}`,
    )
    .join(', ');
}

function describe(desired: DesiredPrice): string {
  const per = desired.interval === 'once' ? ' once' : `/${desired.interval}`;
  return `${desired.lookupKey} ${amountsText(desired)}${per}`;
}

function describeExisting(price: Stripe.Price): string {
  const amount = price.unit_amount ?? `${price.unit_amount_decimal?.toString() ?? '?'}/unit`;
  return `${amount} ${price.currency}/${price.recurring?.interval ?? 'once'}`;
}
