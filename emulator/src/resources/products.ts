import type Stripe from 'stripe';
import { invalidRequest, notFound } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { paginate } from '../core/list';
import { search } from '../core/search';
import { rememberDeleted, requireProduct } from './common';
import { createPrice } from './prices';
import { applyCommon, createProduct } from './product-objects';
import { COLLECTIONS } from '../core/collections';

export { requireProduct } from './common';

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
