import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { invalidRequest, notFound } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId } from '../core/ids';
import { paginate } from '../core/list';
import type { ParamReader } from '../core/params';
import { search } from '../core/search';
import { rememberDeleted, requireProduct } from './common';
import { createPrice } from './prices';
import { COLLECTIONS } from '../core/collections';

export { requireProduct } from './common';

function applyCommon(prod: Stripe.Product, input: ParamReader): void {
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

function create({ emulator, input }: ApiRequest): Stripe.Product {
  const prod = createProduct(emulator, input);
  const dpd = input.obj('default_price_data');
  if (dpd) {
    const price = createPrice(emulator, dpd, { product: prod.id });
    const { obj, previous } = emulator.store.update(COLLECTIONS.product, prod.id, (x) => {
      x.default_price = price.id;
    });
    emulator.emitEvent('product.updated', obj, previous);
  }
  return prod;
}

function update({ emulator, input, pathParams }: ApiRequest): Stripe.Product {
  requireProduct(emulator, pathParams.id, 'id');
  const dp = input.has('default_price') ? input.strOrNull('default_price') : undefined;
  if (dp) {
    const price = emulator.store.get(COLLECTIONS.price, dp);
    if (!price || price.product !== pathParams.id) throw notFound('price', dp, 'default_price');
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.product, pathParams.id, (x) => {
    applyCommon(x, input);
    if (dp !== undefined) x.default_price = dp;
  });
  if (Object.keys(previous).length > 0) {
    obj.updated = emulator.now();
    emulator.emitEvent('product.updated', obj, previous);
  }
  return obj;
}

function del({ emulator, pathParams }: ApiRequest): unknown {
  const prod = requireProduct(emulator, pathParams.id, 'id');
  if (emulator.store.all(COLLECTIONS.price).some((pr) => pr.product === prod.id)) {
    throw invalidRequest(
      'This product cannot be deleted because it has one or more user-created prices.',
      undefined,
      'product_has_prices',
    );
  }
  emulator.store.delete(COLLECTIONS.product, prod.id);
  emulator.emitEvent('product.deleted', prod);
  return rememberDeleted(emulator, prod.id, 'product');
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const active = input.bool('active');
  const ids = input.strArray('ids');
  const created = input.range('created');
  const shippable = input.bool('shippable');
  const url = input.str('url');
  const items = emulator.store
    .all(COLLECTIONS.product)
    .filter(
      (x) =>
        (active === undefined || x.active === active) &&
        (!ids || ids.includes(x.id)) &&
        (!created || created(x.created)) &&
        (shippable === undefined || x.shippable === shippable) &&
        (url === undefined || x.url === url),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/products',
    params: [
      'name',
      'active',
      'default_price_data',
      'description',
      'id',
      'images',
      'marketing_features',
      'metadata',
      'package_dimensions',
      'shippable',
      'statement_descriptor',
      'tax_code',
      'tax_details',
      'type',
      'unit_label',
      'url',
    ],
    handler: create,
  },
  {
    method: 'GET',
    path: '/v1/products',
    params: [
      'active',
      'created',
      'ids',
      'shippable',
      'type',
      'url',
      'limit',
      'starting_after',
      'ending_before',
    ],
    handler: list,
  },
  {
    method: 'GET',
    path: '/v1/products/search',
    params: ['query', 'limit', 'page'],
    handler: (req) => search(req.emulator.store.all(COLLECTIONS.product), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/products/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requireProduct(emulator, pathParams.id, 'id'),
  },
  {
    method: 'POST',
    path: '/v1/products/:id',
    params: [
      'active',
      'default_price',
      'description',
      'images',
      'marketing_features',
      'metadata',
      'name',
      'package_dimensions',
      'shippable',
      'statement_descriptor',
      'tax_code',
      'tax_details',
      'unit_label',
      'url',
    ],
    handler: update,
  },
  { method: 'DELETE', path: '/v1/products/:id', params: [], handler: del },
];
