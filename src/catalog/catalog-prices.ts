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
  currency: string;
  interval: 'month' | 'year';
  /** A flat amount per period in integer cents (plans), or a per-unit decimal of cents on a meter (overage). */
  amount:
    | { kind: 'licensed'; cents: number }
    | { kind: 'metered'; unitAmountDecimal: string; meterId: string };
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
    for await (const price of stripe.prices.list({ lookup_keys: chunk, limit: 100 })) {
      if (price.lookup_key) found.set(price.lookup_key, price);
    }
  }
  return found;
}

/**
 * Makes the price under a lookup key match; returns the id that holds the key afterwards. Prices are never
 * edited: Stripe freezes amounts, and subscribers on the old amount must keep it. A different amount (or
 * product, interval, meter, currency) creates a new price that takes the lookup key over
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

  const params: Stripe.PriceCreateParams = {
    lookup_key: desired.lookupKey,
    currency: desired.currency,
    product: desired.productId,
    nickname: desired.nickname,
    metadata: desired.metadata,
    tax_behavior: TAX_BEHAVIOR,
    ...(desired.amount.kind === 'licensed'
      ? {
          unit_amount: desired.amount.cents,
          recurring: { interval: desired.interval, usage_type: 'licensed' },
        }
      : {
          unit_amount_decimal: Stripe.Decimal.from(desired.amount.unitAmountDecimal),
          recurring: { interval: desired.interval, usage_type: 'metered', meter: desired.amount.meterId },
        }),
    ...(current ? { transfer_lookup_key: true } : {}),
  };
  const amount = desired.amount.kind === 'licensed' ? desired.amount.cents : desired.amount.unitAmountDecimal;
  const created = await stripe.prices.create(params, {
    idempotencyKey: syncKey(
      `price:${desired.lookupKey}:${amount}:${desired.currency}:replaces:${current?.id ?? 'none'}`,
      { ...params, unit_amount_decimal: params.unit_amount_decimal?.toString() },
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
  const recurring = price.recurring;
  if (!recurring || recurring.interval !== desired.interval || recurring.interval_count !== 1) return false;
  if (price.currency !== desired.currency || idOf(price.product) !== desired.productId) return false;
  if (price.billing_scheme !== 'per_unit') return false;
  if (desired.amount.kind === 'licensed') {
    return recurring.usage_type === 'licensed' && price.unit_amount === desired.amount.cents;
  }
  return (
    recurring.usage_type === 'metered' &&
    recurring.meter === desired.amount.meterId &&
    price.unit_amount_decimal !== null &&
    price.unit_amount_decimal.eq(Stripe.Decimal.from(desired.amount.unitAmountDecimal))
  );
}

function describe(desired: DesiredPrice): string {
  const amount =
    desired.amount.kind === 'licensed'
      ? `${desired.amount.cents}`
      : `${desired.amount.unitAmountDecimal}/unit`;
  return `${desired.lookupKey} ${amount} ${desired.currency}/${desired.interval}`;
}

function describeExisting(price: Stripe.Price): string {
  const amount = price.unit_amount ?? `${price.unit_amount_decimal?.toString() ?? '?'}/unit`;
  return `${amount} ${price.currency}/${price.recurring?.interval ?? 'once'}`;
}
