import type Stripe from 'stripe';
import { decimalString } from '../core/decimal';
import type { Emulator } from '../core/emulator';
import { invalidRequest, missingParam, notFound } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId } from '../core/ids';
import { paginate } from '../core/list';
import type { ParamReader } from '../core/params';
import { search } from '../core/search';
import { requirePrice } from './common';
import { createProduct } from './product-objects';
import { COLLECTIONS } from '../core/collections';
import { currencyOptionsFor } from './price-currency-options';

export { requirePrice } from './common';

const INTERVALS = ['day', 'week', 'month', 'year'] as const;
/** Stripe caps a recurring interval at one year (or 3 years in some accounts; we use 1). */
const MAX_DAYS: Record<(typeof INTERVALS)[number], number> = { day: 365, week: 52, month: 12, year: 1 };

export function readTiers(input: ParamReader): Stripe.Price.Tier[] {
  const raw = input.objArray('tiers');
  if (!raw || raw.length === 0) throw missingParam('tiers');
  let last = 0;
  return raw.map((t, i) => {
    const upTo = t.reqStr('up_to');
    let up_to: number | null;
    if (upTo === 'inf') {
      if (i !== raw.length - 1)
        throw invalidRequest('Only the last tier may have `up_to: inf`.', t.name('up_to'));
      up_to = null;
    } else {
      up_to = t.reqInt('up_to');
      if (up_to <= last)
        throw invalidRequest('Tiers must be in ascending order of `up_to`.', t.name('up_to'));
      last = up_to;
    }
    if (i === raw.length - 1 && up_to !== null) {
      throw invalidRequest('The last tier must have `up_to` set to `inf`.', t.name('up_to'));
    }
    const unit = t.int('unit_amount');
    const unitDec = t.decimal('unit_amount_decimal');
    const flat = t.int('flat_amount');
    const flatDec = t.decimal('flat_amount_decimal');
    if (unit !== undefined && unitDec !== undefined) {
      throw invalidRequest(
        'You may only specify one of unit_amount and unit_amount_decimal.',
        t.name('unit_amount'),
      );
    }
    if (flat !== undefined && flatDec !== undefined) {
      throw invalidRequest(
        'You may only specify one of flat_amount and flat_amount_decimal.',
        t.name('flat_amount'),
      );
    }
    if (unit === undefined && unitDec === undefined && flat === undefined && flatDec === undefined) {
      throw invalidRequest('Each tier needs an amount (unit_amount or flat_amount).', t.name('unit_amount'));
    }
    return {
      flat_amount:
        flat ?? (flatDec !== undefined && Number.isInteger(Number(flatDec)) ? Number(flatDec) : null),
      flat_amount_decimal:
        flat !== undefined ? decimalString(flat) : flatDec !== undefined ? decimalString(flatDec) : null,
      unit_amount:
        unit ?? (unitDec !== undefined && Number.isInteger(Number(unitDec)) ? Number(unitDec) : null),
      unit_amount_decimal:
        unit !== undefined ? decimalString(unit) : unitDec !== undefined ? decimalString(unitDec) : null,
      up_to,
    };
  });
}

function readRecurring(emulator: Emulator, input: ParamReader): Stripe.Price.Recurring {
  const interval = input.oneOf('interval', INTERVALS);
  if (!interval) throw missingParam(input.name('interval'));
  const interval_count = input.int('interval_count') ?? 1;
  if (interval_count < 1 || interval_count > MAX_DAYS[interval]) {
    throw invalidRequest('The maximum billing period is one year.', input.name('interval_count'));
  }
  const usage_type = input.oneOf('usage_type', ['licensed', 'metered'] as const) ?? 'licensed';
  const meter = input.str('meter') ?? null;
  if (usage_type === 'metered' && !meter) {
    throw invalidRequest(
      'Metered prices must be backed by a meter: pass `recurring[meter]` (usage records were removed in 2025-03-31.basil).',
      input.name('meter'),
    );
  }
  if (meter) {
    if (usage_type !== 'metered') {
      throw invalidRequest(
        '`recurring[meter]` requires `recurring[usage_type]=metered`.',
        input.name('usage_type'),
      );
    }
    const m = emulator.store.get(COLLECTIONS.meter, meter);
    if (!m) throw notFound('billing meter', meter, input.name('meter'));
    if (m.status !== 'active') throw invalidRequest(`The meter ${meter} is inactive.`, input.name('meter'));
  }
  return {
    interval,
    interval_count,
    meter,
    trial_period_days: input.int('trial_period_days') ?? null,
    usage_type,
  };
}

/** Moves or refuses a lookup key already used by another price. */
function claimLookupKey(emulator: Emulator, key: string, transfer: boolean, selfId: string | null): void {
  const holder = emulator.store.all(COLLECTIONS.price).find((x) => x.lookup_key === key && x.id !== selfId);
  if (!holder) return;
  if (!transfer) {
    throw invalidRequest(
      `A price (\`${holder.id}\`) already uses that lookup key.`,
      'lookup_key',
      'lookup_key_already_exists',
    );
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.price, holder.id, (x) => {
    x.lookup_key = null;
  });
  emulator.emitEvent('price.updated', obj, previous);
}

/**
 * Creates and stores a price from create params (or a `price_data` / `default_price_data`
 * hash). `inline`: a `price_data` price, created inactive and without `price.created`.
 */
export function createPrice(
  emulator: Emulator,
  input: ParamReader,
  options: { inline?: boolean; product?: string } = {},
): Stripe.Price {
  const currency = input.reqStr('currency').toLowerCase();
  let product = options.product ?? input.str('product');
  const productData = input.obj('product_data');
  if (product && productData) {
    throw invalidRequest('You may only specify one of these parameters: product, product_data.', 'product');
  }
  if (!product && !productData) throw missingParam(input.name('product'));
  if (product) {
    if (!emulator.store.get(COLLECTIONS.product, product))
      throw notFound('product', product, input.name('product'));
  }
  const billing_scheme = input.oneOf('billing_scheme', ['per_unit', 'tiered'] as const) ?? 'per_unit';
  const unit = input.int('unit_amount');
  const unitDec = input.decimal('unit_amount_decimal');
  const custom = input.obj('custom_unit_amount');
  let tiers: Stripe.Price.Tier[] | undefined;
  let tiers_mode: Stripe.Price.TiersMode | null = null;
  if (billing_scheme === 'tiered') {
    if (unit !== undefined || unitDec !== undefined) {
      throw invalidRequest(
        'unit_amount is not allowed with billing_scheme=tiered.',
        input.name('unit_amount'),
      );
    }
    tiers = readTiers(input);
    const mode = input.oneOf('tiers_mode', ['graduated', 'volume'] as const);
    if (!mode) throw missingParam(input.name('tiers_mode'));
    tiers_mode = mode;
  } else {
    if (input.has('tiers')) throw invalidRequest('tiers require billing_scheme=tiered.', input.name('tiers'));
    if (unit !== undefined && unitDec !== undefined) {
      throw invalidRequest(
        'You may only specify one of these parameters: unit_amount, unit_amount_decimal.',
        input.name('unit_amount'),
      );
    }
    if (unit === undefined && unitDec === undefined && !custom) {
      throw invalidRequest(
        'Prices with billing_scheme=per_unit need unit_amount, unit_amount_decimal or custom_unit_amount.',
        input.name('unit_amount'),
        'parameter_missing',
      );
    }
    if (unit !== undefined && unit < 0)
      throw invalidRequest('Invalid unit_amount: must be >= 0', input.name('unit_amount'));
  }
  const rec = input.obj('recurring');
  const recurring = rec ? readRecurring(emulator, rec) : null;
  const lookupKey = input.str('lookup_key') || null;
  if (lookupKey) claimLookupKey(emulator, lookupKey, input.bool('transfer_lookup_key') ?? false, null);
  const tq = input.obj('transform_quantity');
  if (productData) {
    product = createProduct(emulator, productData).id;
  }
  const price: Stripe.Price = {
    id: newId('price'),
    object: 'price',
    active: options.inline ? false : (input.bool('active') ?? true),
    billing_scheme,
    created: emulator.now(),
    currency,
    custom_unit_amount: custom
      ? {
          maximum: custom.int('maximum') ?? null,
          minimum: custom.int('minimum') ?? null,
          preset: custom.int('preset') ?? null,
        }
      : null,
    livemode: false,
    lookup_key: lookupKey,
    metadata: input.metadata({}),
    nickname: input.str('nickname') ?? null,
    product: product as string,
    recurring,
    tax_behavior:
      input.oneOf('tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const) ?? 'unspecified',
    ...(tiers ? { tiers } : {}),
    tiers_mode,
    transform_quantity: tq
      ? { divide_by: tq.reqInt('divide_by'), round: tq.oneOf('round', ['up', 'down'] as const) ?? 'up' }
      : null,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount:
      unit ?? (unitDec !== undefined && Number.isInteger(Number(unitDec)) ? Number(unitDec) : null),
    unit_amount_decimal:
      unit !== undefined ? decimalString(unit) : unitDec !== undefined ? decimalString(unitDec) : null,
  };
  price.currency_options = currencyOptionsFor(price, input, readTiers);
  emulator.store.insert(COLLECTIONS.price, price);
  if (!options.inline) emulator.emitEvent('price.created', price);
  return price;
}

/**
 * `tax_behavior` (the Price object): "Once specified as either `inclusive` or `exclusive`, it cannot be changed."
 * Setting the same value again is accepted.
 */
function keptTaxBehavior(
  current: Stripe.Price.TaxBehavior | null,
  next: Stripe.Price.TaxBehavior,
): Stripe.Price.TaxBehavior {
  if (current === 'inclusive' || current === 'exclusive') {
    if (next !== current)
      throw invalidRequest(
        `The price's tax_behavior is already \`${current}\` and cannot be changed.`,
        'tax_behavior',
      );
  }
  return next;
}

function update({ emulator, input, pathParams }: ApiRequest): Stripe.Price {
  requirePrice(emulator, pathParams.id, 'id');
  const lookupKey = input.has('lookup_key') ? input.strOrNull('lookup_key') : undefined;
  if (lookupKey)
    claimLookupKey(emulator, lookupKey, input.bool('transfer_lookup_key') ?? false, pathParams.id);
  const { obj, previous } = emulator.store.update(COLLECTIONS.price, pathParams.id, (x) => {
    if (input.has('active')) x.active = input.bool('active') ?? x.active;
    if (lookupKey !== undefined) x.lookup_key = lookupKey;
    if (input.has('nickname')) x.nickname = input.strOrNull('nickname') ?? null;
    const tb = input.oneOf('tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const);
    if (tb) x.tax_behavior = keptTaxBehavior(x.tax_behavior, tb);
    x.currency_options = currencyOptionsFor(x, input, readTiers);
    x.metadata = input.metadata(x.metadata);
  });
  if (Object.keys(previous).length > 0) emulator.emitEvent('price.updated', obj, previous);
  return obj;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const active = input.bool('active');
  const currency = input.str('currency');
  const product = input.str('product');
  const type = input.oneOf('type', ['one_time', 'recurring'] as const);
  const lookupKeys = input.strArray('lookup_keys');
  if (lookupKeys && lookupKeys.length > 10) {
    throw invalidRequest('You may pass at most 10 lookup keys.', 'lookup_keys');
  }
  const created = input.range('created');
  const rec = input.obj('recurring');
  const interval = rec?.str('interval');
  const usage = rec?.str('usage_type');
  const meter = rec?.str('meter');
  const items = emulator.store
    .all(COLLECTIONS.price)
    .filter(
      (x) =>
        (active === undefined || x.active === active) &&
        (!currency || x.currency === currency.toLowerCase()) &&
        (!product || x.product === product) &&
        (!type || x.type === type) &&
        (!lookupKeys || (x.lookup_key !== null && lookupKeys.includes(x.lookup_key))) &&
        (!created || created(x.created)) &&
        (!interval || x.recurring?.interval === interval) &&
        (!usage || x.recurring?.usage_type === usage) &&
        (!meter || x.recurring?.meter === meter),
    );
  return paginate(items, input, req.path);
}

export function setup(emulator: Emulator): void {
  // `tiers` (and `currency_options`) are only returned when expanded (facts §1).
  emulator.registerIncludable(COLLECTIONS.price, 'tiers');
  emulator.registerIncludable(COLLECTIONS.price, 'currency_options');
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/prices',
    params: [
      'currency',
      'active',
      'billing_scheme',
      'currency_options',
      'custom_unit_amount',
      'lookup_key',
      'metadata',
      'nickname',
      'product',
      'product_data',
      'recurring',
      'tax_behavior',
      'tiers',
      'tiers_mode',
      'transfer_lookup_key',
      'transform_quantity',
      'unit_amount',
      'unit_amount_decimal',
    ],
    handler: ({ emulator, input }) => createPrice(emulator, input),
  },
  {
    method: 'GET',
    path: '/v1/prices',
    params: [
      'active',
      'created',
      'currency',
      'lookup_keys',
      'product',
      'recurring',
      'type',
      'limit',
      'starting_after',
      'ending_before',
    ],
    handler: list,
  },
  {
    method: 'GET',
    path: '/v1/prices/search',
    params: ['query', 'limit', 'page'],
    handler: (req) => search(req.emulator.store.all(COLLECTIONS.price), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/prices/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requirePrice(emulator, pathParams.id, 'id'),
  },
  {
    method: 'POST',
    path: '/v1/prices/:id',
    params: [
      'active',
      'currency_options',
      'lookup_key',
      'metadata',
      'nickname',
      'tax_behavior',
      'transfer_lookup_key',
    ],
    handler: update,
  },
];
