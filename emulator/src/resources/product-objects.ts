/** A product as Stripe builds it: shared by `POST /v1/products` and a price's `product_data`. */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../core/collections';
import type { Emulator } from '../core/emulator';
import { invalidRequest } from '../core/errors';
import { newId } from '../core/ids';
import type { ParamReader } from '../core/params';

/** The fields a product create and update both set. */
export function applyCommon(prod: Stripe.Product, input: ParamReader): void {
  if (input.has('name')) prod.name = input.reqStr('name');
  if (input.has('active')) prod.active = input.bool('active') ?? prod.active;
  for (const k of ['description', 'statement_descriptor', 'unit_label', 'url'] as const) {
    if (input.has(k)) prod[k] = input.strOrNull(k) ?? null;
  }
  if (input.has('tax_code')) prod.tax_code = input.strOrNull('tax_code') ?? null;
  if (input.has('images')) prod.images = input.strArray('images') ?? [];
  if (input.has('shippable')) prod.shippable = input.bool('shippable') ?? null;
  if (input.has('marketing_features')) {
    prod.marketing_features = (input.objArray('marketing_features') ?? []).map((f) => ({
      name: f.reqStr('name'),
    }));
  }
  prod.metadata = input.metadata(prod.metadata);
}

/** Creates and stores a product (emits `product.created`); used by `product_data` too. */
export function createProduct(
  emulator: Emulator,
  input: ParamReader,
  options: { emit?: boolean } = {},
): Stripe.Product {
  const id = input.str('id') ?? newId('prod', 14);
  if (emulator.store.get(COLLECTIONS.product, id)) {
    throw invalidRequest(`Product already exists.`, 'id', 'resource_already_exists');
  }
  const now = emulator.now();
  const prod: Stripe.Product = {
    id,
    object: 'product',
    active: true,
    created: now,
    default_price: null,
    description: null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: {},
    name: input.reqStr('name'),
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: 'service',
    unit_label: null,
    updated: now,
    url: null,
  };
  applyCommon(prod, input);
  emulator.store.insert(COLLECTIONS.product, prod);
  if (options.emit !== false) emulator.emitEvent('product.created', prod);
  return prod;
}
