import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { cardError, invalidRequest, notFound } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId, randomBase62 } from '../core/ids';
import { listOf, paginate } from '../core/list';
import type { ParamReader } from '../core/params';
import { search } from '../core/search';
import { deletedStub, rememberDeleted, requireCustomer } from './common';
import {
  assertAttachable,
  attachPaymentMethod,
  listForCustomer,
  recordCardBehavior,
  resolvePaymentMethod,
} from './payment-methods';
import { cardSpec, testIdNumber } from './test-cards';
import { COLLECTIONS } from '../core/collections';
import { addTaxId, readTaxIdData } from './tax-ids';
import { validateTaxLocation } from './tax-location';

export { requireCustomer } from './common';

type DeletedHook = (customer: Stripe.Customer) => void;
const deletedHooks = new WeakMap<Emulator, DeletedHook[]>();

/** Runs after a customer is deleted (the billing engine cancels its subscriptions). */
export function onCustomerDeleted(emulator: Emulator, hook: DeletedHook): void {
  const list = deletedHooks.get(emulator) ?? [];
  list.push(hook);
  deletedHooks.set(emulator, list);
}

function readAddress(a: ParamReader | undefined): Stripe.Address | null {
  if (!a) return null;
  return {
    city: a.str('city') ?? null,
    country: a.str('country') ?? null,
    line1: a.str('line1') ?? null,
    line2: a.str('line2') ?? null,
    postal_code: a.str('postal_code') ?? null,
    state: a.str('state') ?? null,
  };
}

function readShipping(s: ParamReader | undefined): Stripe.Customer.Shipping | null {
  if (!s) return null;
  return {
    address: readAddress(s.obj('address')) ?? undefined,
    name: s.reqStr('name'),
    phone: s.str('phone') ?? null,
  };
}

/** Creates a card source from a test token (`source=tok_visa`), as the CLI's fixtures do. */
function createSource(emulator: Emulator, customerId: string, token: string, param: string): Stripe.Card {
  const number = testIdNumber(token);
  if (!number) throw invalidRequest(`No such token: '${token}'`, param, 'resource_missing');
  const spec = cardSpec(number);
  if (spec.attachFails && !spec.outcome.ok) {
    throw cardError(spec.outcome.code, spec.outcome.message, spec.outcome.decline_code, { param });
  }
  const year = new Date(emulator.now() * 1000).getUTCFullYear();
  const card: Stripe.Card = {
    id: newId('card'),
    object: 'card',
    address_city: null,
    address_country: null,
    address_line1: null,
    address_line1_check: null,
    address_line2: null,
    address_state: null,
    address_zip: null,
    address_zip_check: null,
    brand: spec.brand === 'visa' ? 'Visa' : spec.brand === 'mastercard' ? 'MasterCard' : spec.brand,
    country: spec.country,
    customer: customerId,
    cvc_check: 'pass',
    dynamic_last4: null,
    exp_month: 12,
    exp_year: year + 3,
    fingerprint: randomBase62(16),
    funding: spec.funding,
    last4: number.slice(-4),
    metadata: {},
    name: null,
    regulated_status: 'unregulated',
    tokenization_method: null,
  };
  emulator.store.insert(COLLECTIONS.card, card);
  recordCardBehavior(emulator, card.id, number);
  return card;
}

/** `invoice_settings[default_payment_method]` must name a pm attached to the customer. */
function checkDefaultPm(
  emulator: Emulator,
  customerId: string,
  paymentMethodId: string,
  param: string,
): void {
  const paymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, paymentMethodId);
  if (!paymentMethod || paymentMethod.customer !== customerId) {
    throw invalidRequest(
      `The customer does not have a payment method with the ID ${paymentMethodId}. The payment method must be attached to the customer.`,
      param,
      'resource_missing',
    );
  }
}

/** Fields shared by create and update. */
function applyCommon(c: Stripe.Customer, input: ParamReader): void {
  for (const k of ['email', 'description', 'phone', 'name', 'invoice_prefix'] as const) {
    if (input.has(k)) c[k] = input.strOrNull(k) ?? null;
  }
  if (input.has('balance')) c.balance = input.int('balance') ?? 0;
  if (input.has('address')) c.address = readAddress(input.obj('address'));
  if (input.has('shipping')) c.shipping = readShipping(input.obj('shipping'));
  if (input.has('preferred_locales')) c.preferred_locales = input.strArray('preferred_locales') ?? [];
  const te = input.oneOf('tax_exempt', ['none', 'exempt', 'reverse'] as const);
  if (te) c.tax_exempt = te;
  if (input.has('next_invoice_sequence')) c.next_invoice_sequence = input.int('next_invoice_sequence');
  c.metadata = input.metadata(c.metadata);
  const is = input.obj('invoice_settings');
  if (is) {
    if (is.has('footer')) c.invoice_settings.footer = is.strOrNull('footer') ?? null;
  }
}

function create({ emulator, input }: ApiRequest): Stripe.Customer {
  const clockId = input.str('test_clock');
  let created = emulator.now();
  if (clockId) {
    const clock = emulator.store.get(COLLECTIONS.testClock, clockId);
    if (!clock) throw notFound('test_clock', clockId, 'test_clock');
    created = clock.frozen_time;
  }
  const id = newId('cus', 14);
  // Resolve payment methods first so a decline leaves nothing behind. The same test id in
  // `payment_method` and `invoice_settings[default_payment_method]` is one new pm (see facts §6).
  const paymentMethodParam = input.str('payment_method');
  const paymentMethod = paymentMethodParam
    ? resolvePaymentMethod(emulator, paymentMethodParam, 'payment_method')
    : undefined;
  if (paymentMethod) assertAttachable(emulator, paymentMethod.id);
  const defaultParam = input.obj('invoice_settings')?.str('default_payment_method');
  let defaultPm: string | null = null;
  if (defaultParam) {
    if (paymentMethod && (defaultParam === paymentMethodParam || defaultParam === paymentMethod.id))
      defaultPm = paymentMethod.id;
    else checkDefaultPm(emulator, id, defaultParam, 'invoice_settings[default_payment_method]');
  }
  const taxIdData = readTaxIdData(input);
  const c: Stripe.Customer = {
    id,
    object: 'customer',
    address: null,
    balance: 0,
    created,
    currency: null,
    customer_account: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: randomBase62(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: defaultPm,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: {},
    name: null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: clockId ?? null,
  };
  applyCommon(c, input);
  validateTaxLocation(c, input);
  const source = input.str('source');
  let card: Stripe.Card | undefined;
  if (source) {
    card = createSource(emulator, id, source, 'source');
    c.default_source = card.id;
  }
  emulator.store.insert(COLLECTIONS.customer, c);
  emulator.emitEvent('customer.created', c);
  if (card) emulator.emitEvent('customer.source.created', card);
  if (paymentMethod) attachPaymentMethod(emulator, paymentMethod.id, id);
  for (const data of taxIdData) addTaxId(emulator, id, data);
  return c;
}

function update({ emulator, input, pathParams }: ApiRequest): Stripe.Customer {
  const id = pathParams.id;
  requireCustomer(emulator, id, 'id');
  const source = input.str('source');
  let card: Stripe.Card | undefined;
  if (source) card = createSource(emulator, id, source, 'source');
  const is = input.obj('invoice_settings');
  if (is?.has('default_payment_method')) {
    const dpm = is.str('default_payment_method');
    if (dpm) checkDefaultPm(emulator, id, dpm, 'invoice_settings[default_payment_method]');
  }
  const ds = input.str('default_source');
  if (ds && !emulator.store.get(COLLECTIONS.card, ds)) {
    throw invalidRequest(`No such source: '${ds}'`, 'default_source', 'resource_missing');
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.customer, id, (c) => {
    applyCommon(c, input);
    validateTaxLocation(c, input);
    if (is?.has('default_payment_method')) {
      c.invoice_settings.default_payment_method = is.strOrNull('default_payment_method') ?? null;
    }
    if (card) c.default_source = card.id;
    if (ds) c.default_source = ds;
  });
  if (card) emulator.emitEvent('customer.source.created', card);
  if (Object.keys(previous).length > 0) emulator.emitEvent('customer.updated', obj, previous);
  return obj;
}

function del({ emulator, pathParams }: ApiRequest): unknown {
  const c = requireCustomer(emulator, pathParams.id, 'id');
  emulator.store.delete(COLLECTIONS.customer, c.id);
  const stub = rememberDeleted(emulator, c.id, 'customer');
  emulator.emitEvent('customer.deleted', c);
  for (const hook of deletedHooks.get(emulator) ?? []) hook(c);
  return stub;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const email = input.str('email');
  const created = input.range('created');
  const clock = input.str('test_clock');
  const items = emulator.store
    .all(COLLECTIONS.customer)
    .filter(
      (c) =>
        (clock ? c.test_clock === clock : !c.test_clock) &&
        (email === undefined || c.email === email) &&
        (!created || created(c.created)),
    );
  return paginate(items, input, req.path);
}

function addSource(req: ApiRequest): Stripe.Card {
  const { emulator, input, pathParams } = req;
  const c = requireCustomer(emulator, pathParams.id, 'id');
  const card = createSource(emulator, c.id, input.reqStr('source'), 'source');
  emulator.store.put(COLLECTIONS.card, { ...card, metadata: input.metadata({}) });
  emulator.emitEvent('customer.source.created', card);
  if (!c.default_source) {
    const { obj, previous } = emulator.store.update(COLLECTIONS.customer, c.id, (x) => {
      x.default_source = card.id;
    });
    emulator.emitEvent('customer.updated', obj, previous);
  }
  return emulator.store.require(COLLECTIONS.card, card.id);
}

function cardsOf(emulator: Emulator, customerId: string): Stripe.Card[] {
  return emulator.store.all(COLLECTIONS.card).filter((s) => s.customer === customerId);
}

export function setup(emulator: Emulator): void {
  // Since 2020-08-27 these lists are only returned when expanded.
  emulator.registerIncludable(COLLECTIONS.customer, 'sources', (c) =>
    listOf(cardsOf(emulator, String(c.id)), `/v1/customers/${String(c.id)}/sources`),
  );
  emulator.registerIncludable(COLLECTIONS.customer, 'subscriptions', (c) =>
    listOf(
      emulator.store.all(COLLECTIONS.subscription).filter((s) => s.customer === c.id),
      `/v1/customers/${String(c.id)}/subscriptions`,
    ),
  );
  emulator.registerIncludable(COLLECTIONS.customer, 'tax_ids', (c) =>
    listOf([], `/v1/customers/${String(c.id)}/tax_ids`),
  );
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/customers',
    params: [
      'address',
      'balance',
      'business_name',
      'cash_balance',
      'description',
      'email',
      'individual_name',
      'invoice_prefix',
      'invoice_settings',
      'metadata',
      'name',
      'next_invoice_sequence',
      'payment_method',
      'phone',
      'preferred_locales',
      'shipping',
      'source',
      'tax',
      'tax_exempt',
      'tax_id_data',
      'test_clock',
      'validate',
    ],
    handler: create,
  },
  {
    method: 'GET',
    path: '/v1/customers',
    params: ['created', 'email', 'test_clock', 'limit', 'starting_after', 'ending_before'],
    handler: list,
  },
  {
    method: 'GET',
    path: '/v1/customers/search',
    params: ['query', 'limit', 'page'],
    handler: (req) => search(req.emulator.store.all(COLLECTIONS.customer), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/customers/:id',
    params: [],
    handler: ({ emulator, pathParams }) => {
      const c = emulator.store.get(COLLECTIONS.customer, pathParams.id);
      if (c) return c;
      const stub = deletedStub(emulator, pathParams.id);
      if (stub?.object === 'customer') return stub;
      throw notFound('customer', pathParams.id);
    },
  },
  {
    method: 'POST',
    path: '/v1/customers/:id',
    params: [
      'address',
      'balance',
      'business_name',
      'cash_balance',
      'default_source',
      'description',
      'email',
      'individual_name',
      'invoice_prefix',
      'invoice_settings',
      'metadata',
      'name',
      'next_invoice_sequence',
      'phone',
      'preferred_locales',
      'shipping',
      'source',
      'tax',
      'tax_exempt',
      'validate',
    ],
    handler: update,
  },
  { method: 'DELETE', path: '/v1/customers/:id', params: [], handler: del },
  {
    method: 'GET',
    path: '/v1/customers/:id/payment_methods',
    params: ['allow_redisplay', 'type', 'limit', 'starting_after', 'ending_before'],
    handler: (req) => {
      requireCustomer(req.emulator, req.pathParams.id, 'customer');
      return listForCustomer(req, req.pathParams.id);
    },
  },
  {
    method: 'GET',
    path: '/v1/customers/:id/payment_methods/:pm',
    params: [],
    handler: ({ emulator, pathParams }) => {
      requireCustomer(emulator, pathParams.id, 'customer');
      const paymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, pathParams.pm);
      if (!paymentMethod || paymentMethod.customer !== pathParams.id)
        throw notFound('PaymentMethod', pathParams.pm, 'payment_method');
      return paymentMethod;
    },
  },
  {
    method: 'POST',
    path: '/v1/customers/:id/sources',
    params: ['source', 'metadata', 'validate'],
    handler: addSource,
  },
  {
    method: 'GET',
    path: '/v1/customers/:id/sources',
    params: ['object', 'limit', 'starting_after', 'ending_before'],
    handler: (req) => {
      requireCustomer(req.emulator, req.pathParams.id, 'customer');
      return paginate(cardsOf(req.emulator, req.pathParams.id), req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/customers/:id/sources/:src',
    params: [],
    handler: ({ emulator, pathParams }) => {
      const card = emulator.store.get(COLLECTIONS.card, pathParams.src);
      if (!card || card.customer !== pathParams.id) throw notFound('source', pathParams.src);
      return card;
    },
  },
];

/**
 * Creates a customer from create params outside an API request of its own (Checkout completion).
 * Added by the billing engine; `create` only reads `emulator` and `p`.
 */
export function createCustomerFromParams(emulator: Emulator, input: ParamReader): Stripe.Customer {
  return create({ emulator, input } as ApiRequest);
}
