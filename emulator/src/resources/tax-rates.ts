/**
 * `/v1/tax_rates` (https://docs.stripe.com/api/tax_rates): manual tax rates, and the rates the emulated Stripe Tax
 * creates for a jurisdiction (an invoice's `taxes[].tax_rate_details.tax_rate` names one, as Stripe's own
 * automatic-tax rates do: https://docs.stripe.com/tax/zero-tax shows such a rate, `txr_…`, `active: false`).
 */
import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { invalidRequest, missingParam } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId } from '../core/ids';
import { paginate } from '../core/list';
import type { ParamReader } from '../core/params';

/** The store collection (named for the Stripe object, so ids expand). */
export const TAX_RATE = 'tax_rate';

const TAX_TYPES = [
  'gst',
  'hst',
  'igst',
  'jct',
  'pst',
  'qst',
  'rst',
  'sales_tax',
  'service_tax',
  'vat',
] as const;

export interface TaxRateSpec {
  displayName: string;
  /** Percent as a decimal number (`7.25`): Stripe's `percentage` is a float on the wire. */
  percentage: number;
  inclusive: boolean;
  active: boolean;
  country: string | null;
  state: string | null;
  jurisdiction: string | null;
  jurisdictionLevel: Stripe.TaxRate.JurisdictionLevel | null;
  taxType: Stripe.TaxRate.TaxType | null;
  description: string | null;
  metadata: Record<string, string>;
}

export function createTaxRate(emulator: Emulator, spec: TaxRateSpec, emit = true): Stripe.TaxRate {
  const rate: Stripe.TaxRate = {
    id: newId('txr'),
    object: 'tax_rate',
    active: spec.active,
    country: spec.country,
    created: emulator.now(),
    description: spec.description,
    display_name: spec.displayName,
    effective_percentage: spec.percentage,
    flat_amount: null,
    inclusive: spec.inclusive,
    jurisdiction: spec.jurisdiction,
    jurisdiction_level: spec.jurisdictionLevel,
    livemode: false,
    metadata: spec.metadata,
    percentage: spec.percentage,
    rate_type: 'percentage',
    state: spec.state,
    tax_type: spec.taxType,
  };
  emulator.store.insert(TAX_RATE, rate);
  if (emit) emulator.emitEvent('tax_rate.created', rate);
  return rate;
}

/** A tax rate, or Stripe's 404 "No such tax rate: 'txr_x'". */
export function requireTaxRate(emulator: Emulator, id: string, param = 'id'): Stripe.TaxRate {
  return emulator.store.require(TAX_RATE, id, 'tax rate', param);
}

/** `percentage`: 0–100, at most 4 decimal places (the TaxRate object's `percentage`). */
function readPercentage(input: ParamReader): number {
  const raw = input.str('percentage');
  if (raw === undefined || raw === '') throw missingParam('percentage');
  if (!/^\d+(\.\d{1,4})?$/.test(raw) || Number(raw) > 100) {
    throw invalidRequest(`Invalid decimal: ${raw}`, 'percentage', 'parameter_invalid_decimal');
  }
  return Number(raw);
}

function create({ emulator, input }: ApiRequest): Stripe.TaxRate {
  const displayName = input.reqStr('display_name');
  const percentage = readPercentage(input);
  const inclusive = input.bool('inclusive');
  if (inclusive === undefined) throw missingParam('inclusive');
  return createTaxRate(emulator, {
    displayName,
    percentage,
    inclusive,
    active: input.bool('active') ?? true,
    country: input.str('country')?.toUpperCase() ?? null,
    state: input.str('state') ?? null,
    jurisdiction: input.str('jurisdiction') ?? null,
    jurisdictionLevel: null,
    taxType: input.oneOf('tax_type', TAX_TYPES) ?? null,
    description: input.str('description') ?? null,
    metadata: input.metadata({}),
  });
}

/** Percentage and `inclusive` are fixed once created (TaxRateUpdateParams has neither). */
function update({ emulator, input, pathParams }: ApiRequest): Stripe.TaxRate {
  requireTaxRate(emulator, pathParams.id);
  const { obj, previous } = emulator.store.update(TAX_RATE, pathParams.id, (rate) => {
    if (input.has('active')) rate.active = input.bool('active') ?? rate.active;
    if (input.has('display_name')) rate.display_name = input.reqStr('display_name');
    for (const key of ['country', 'state', 'jurisdiction', 'description'] as const) {
      if (input.has(key)) rate[key] = input.strOrNull(key) ?? null;
    }
    const taxType = input.oneOf('tax_type', TAX_TYPES);
    if (taxType) rate.tax_type = taxType;
    rate.metadata = input.metadata(rate.metadata ?? {});
  });
  if (Object.keys(previous).length > 0) emulator.emitEvent('tax_rate.updated', obj, previous);
  return obj;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const active = input.bool('active');
  const inclusive = input.bool('inclusive');
  const created = input.range('created');
  const items = emulator.store
    .all(TAX_RATE)
    .filter(
      (rate) =>
        (active === undefined || rate.active === active) &&
        (inclusive === undefined || rate.inclusive === inclusive) &&
        (!created || created(rate.created)),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/tax_rates',
    params: [
      'display_name',
      'inclusive',
      'percentage',
      'active',
      'country',
      'description',
      'jurisdiction',
      'metadata',
      'state',
      'tax_type',
    ],
    handler: create,
  },
  {
    method: 'GET',
    path: '/v1/tax_rates',
    params: ['active', 'created', 'inclusive', 'limit', 'starting_after', 'ending_before'],
    handler: list,
  },
  {
    method: 'GET',
    path: '/v1/tax_rates/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requireTaxRate(emulator, pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/tax_rates/:id',
    params: [
      'active',
      'country',
      'description',
      'display_name',
      'jurisdiction',
      'metadata',
      'state',
      'tax_type',
    ],
    handler: update,
  },
];

declare module '../core/collections' {
  interface CollectionRecords {
    tax_rate: Stripe.TaxRate;
  }
}
