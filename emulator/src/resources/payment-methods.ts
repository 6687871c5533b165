import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { cardError, invalidRequest, missingParam, notFound } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId } from '../core/ids';
import { paginate } from '../core/list';
import type { ParamReader } from '../core/params';
import { requireCustomer } from './common';
import {
  type Authentication,
  type CardSpec,
  type ChargeOutcome,
  cardSpec,
  type DisputeSpec,
  luhnValid,
  testIdNumber,
} from './test-cards';
import { COLLECTIONS } from '../core/collections';

export type { ChargeOutcome, DisputeSpec } from './test-cards';

/** Private record of what charging a payment method (or card source) does. */
interface PaymentMethodBehavior {
  id: string;
  outcome: ChargeOutcome;
  attachFails: boolean;
  /** Absent in data files written before dispute test cards existed. */
  dispute?: DisputeSpec | null;
  /** Absent in data files written before authentication test cards existed. */
  authentication?: Authentication;
}

export interface CardInput {
  number: string;
  exp_month?: number;
  exp_year?: number;
  cvc?: string;
}

export interface PaymentMethodExtra {
  billing_details?: Partial<Stripe.PaymentMethod.BillingDetails>;
  metadata?: Record<string, string>;
}

function fingerprint(number: string): string {
  return createHash('sha256').update(number).digest('base64url').replace(/[-_]/g, '').slice(0, 16);
}

function paymentMethodCard(spec: CardSpec, input: CardInput, now: number): Stripe.PaymentMethod.Card {
  const year = new Date(now * 1000).getUTCFullYear();
  return {
    brand: spec.brand,
    checks: {
      address_line1_check: null,
      address_postal_code_check: null,
      cvc_check: input.cvc ? 'pass' : null,
    },
    country: spec.country,
    display_brand: spec.brand,
    exp_month: input.exp_month ?? 12,
    exp_year: input.exp_year ?? year + 3,
    fingerprint: fingerprint(spec.number),
    funding: spec.funding,
    generated_from: null,
    last4: spec.number.slice(-4),
    networks: { available: [spec.brand], preferred: null },
    regulated_status: 'unregulated',
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}

/** Validates a typed card number as Stripe does (402 `incorrect_number`). */
function checkNumber(number: string, param: string): string {
  const digits = number.replace(/[\s-]/g, '');
  if (!luhnValid(digits)) {
    throw cardError('incorrect_number', 'Your card number is incorrect.', undefined, { param });
  }
  return digits;
}

/** Creates and stores a card payment method (no event: Stripe emits none on create). */
export function createCardPaymentMethod(
  emulator: Emulator,
  cardNumber: string | CardInput,
  extra: PaymentMethodExtra = {},
): Stripe.PaymentMethod {
  const input: CardInput = typeof cardNumber === 'string' ? { number: cardNumber } : cardNumber;
  const spec = cardSpec(checkNumber(input.number, 'card[number]'));
  const now = emulator.now();
  const paymentMethod: Stripe.PaymentMethod = {
    id: newId('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: null,
      email: null,
      name: null,
      phone: null,
      tax_id: null,
      ...extra.billing_details,
    },
    card: paymentMethodCard(spec, input, now),
    created: now,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: extra.metadata ?? {},
    type: 'card',
  };
  emulator.store.insert(COLLECTIONS.paymentMethod, paymentMethod);
  const behavior: PaymentMethodBehavior = {
    id: paymentMethod.id,
    outcome: spec.outcome,
    attachFails: spec.attachFails,
    dispute: spec.dispute,
    authentication: spec.authentication,
  };
  emulator.store.insert(COLLECTIONS.paymentMethodBehavior, behavior);
  return paymentMethod;
}

/** Records charge behaviour for an id created elsewhere (card sources `card_…`). */
export function recordCardBehavior(emulator: Emulator, id: string, number: string): void {
  const spec = cardSpec(number);
  const behavior: PaymentMethodBehavior = {
    id,
    outcome: spec.outcome,
    attachFails: spec.attachFails,
    dispute: spec.dispute,
    authentication: spec.authentication,
  };
  emulator.store.put(COLLECTIONS.paymentMethodBehavior, behavior);
}

/**
 * `pm_card_*` / `tok_*` test ids → a NEW payment method every time (as Stripe does);
 * an existing `pm_…` → that payment method; anything else → 404.
 */
export function resolvePaymentMethod(
  emulator: Emulator,
  idOrTestId: string,
  param = 'payment_method',
): Stripe.PaymentMethod {
  const number = testIdNumber(idOrTestId);
  if (number) return createCardPaymentMethod(emulator, number);
  const paymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, idOrTestId);
  if (!paymentMethod) throw notFound('PaymentMethod', idOrTestId, param);
  return paymentMethod;
}

/** The dispute a successful charge on this payment method (or card source) draws, if it is a dispute test card. */
export function disputeAfterCharge(emulator: Emulator, paymentMethodId: string): DisputeSpec | null {
  const b = emulator.store.get(COLLECTIONS.paymentMethodBehavior, paymentMethodId);
  if (b) return b.dispute ?? null;
  const number = testIdNumber(paymentMethodId);
  return number ? cardSpec(number).dispute : null;
}

/** When the card's issuer asks for 3-D Secure (see test-cards.ts); `none` for anything else. */
export function cardAuthentication(emulator: Emulator, paymentMethodId: string): Authentication {
  const b = emulator.store.get(COLLECTIONS.paymentMethodBehavior, paymentMethodId);
  if (b) return b.authentication ?? 'none';
  const number = testIdNumber(paymentMethodId);
  return number ? cardSpec(number).authentication : 'none';
}

/** What charging this payment method (or card source) does; see test-cards.ts. */
export function chargeOutcome(emulator: Emulator, paymentMethodId: string): ChargeOutcome {
  const b = emulator.store.get(COLLECTIONS.paymentMethodBehavior, paymentMethodId);
  if (b) return b.outcome;
  const number = testIdNumber(paymentMethodId);
  if (number) return cardSpec(number).outcome;
  if (
    emulator.store.get(COLLECTIONS.paymentMethod, paymentMethodId) ||
    emulator.store.get(COLLECTIONS.card, paymentMethodId)
  )
    return { ok: true };
  return {
    ok: false,
    code: 'resource_missing',
    decline_code: 'resource_missing',
    message: `No such PaymentMethod: '${paymentMethodId}'`,
  };
}

/** Throws the card's decline if Stripe would refuse to attach it (decline test cards). */
export function assertAttachable(emulator: Emulator, paymentMethodId: string): void {
  const b = emulator.store.get(COLLECTIONS.paymentMethodBehavior, paymentMethodId);
  if (b?.attachFails && !b.outcome.ok) {
    throw cardError(b.outcome.code, b.outcome.message, b.outcome.decline_code, { param: 'payment_method' });
  }
}

/** Attaches a payment method to a customer; emits `payment_method.attached`. */
export function attachPaymentMethod(
  emulator: Emulator,
  paymentMethodId: string,
  customerId: string,
): Stripe.PaymentMethod {
  requireCustomer(emulator, customerId);
  const paymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, paymentMethodId);
  if (!paymentMethod) throw notFound('PaymentMethod', paymentMethodId, 'payment_method');
  if (paymentMethod.customer === customerId) return paymentMethod;
  if (paymentMethod.customer) {
    throw invalidRequest(
      'The payment method you provided has already been attached to a customer.',
      undefined,
      'payment_method_unexpected_state',
    );
  }
  assertAttachable(emulator, paymentMethodId);
  const { obj, previous } = emulator.store.update(COLLECTIONS.paymentMethod, paymentMethodId, (p) => {
    p.customer = customerId;
  });
  emulator.emitEvent('payment_method.attached', obj, previous);
  return obj;
}

/**
 * Detaches; emits `payment_method.detached` (previous customer in previous_attributes) and
 * clears the customer's `invoice_settings.default_payment_method` if it pointed here.
 */
function detachPaymentMethod(emulator: Emulator, paymentMethodId: string): Stripe.PaymentMethod {
  const paymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, paymentMethodId);
  if (!paymentMethod) throw notFound('PaymentMethod', paymentMethodId, 'payment_method');
  if (!paymentMethod.customer) {
    throw invalidRequest(
      'The payment method you provided is not attached to a customer so detachment is impossible.',
      undefined,
      'payment_method_unexpected_state',
    );
  }
  const customerId =
    typeof paymentMethod.customer === 'string' ? paymentMethod.customer : paymentMethod.customer.id;
  const { obj, previous } = emulator.store.update(COLLECTIONS.paymentMethod, paymentMethodId, (p) => {
    p.customer = null;
  });
  emulator.emitEvent('payment_method.detached', obj, previous);
  const c = emulator.store.get(COLLECTIONS.customer, customerId);
  if (c && c.invoice_settings.default_payment_method === paymentMethodId) {
    const u = emulator.store.update(COLLECTIONS.customer, customerId, (x) => {
      x.invoice_settings.default_payment_method = null;
    });
    emulator.emitEvent('customer.updated', u.obj, u.previous);
  }
  return obj;
}

function readBillingDetails(p: ParamReader | undefined): Partial<Stripe.PaymentMethod.BillingDetails> {
  if (!p) return {};
  const out: Partial<Stripe.PaymentMethod.BillingDetails> = {};
  for (const k of ['email', 'name', 'phone'] as const) {
    if (p.has(k)) out[k] = p.strOrNull(k) ?? null;
  }
  const a = p.obj('address');
  if (a) {
    out.address = {
      city: a.str('city') ?? null,
      country: a.str('country') ?? null,
      line1: a.str('line1') ?? null,
      line2: a.str('line2') ?? null,
      postal_code: a.str('postal_code') ?? null,
      state: a.str('state') ?? null,
    };
  }
  return out;
}

function create({ emulator, input }: ApiRequest): Stripe.PaymentMethod {
  const type = input.reqStr('type');
  if (type !== 'card') {
    throw invalidRequest(`The emulator only supports type=card payment methods (got '${type}').`, 'type');
  }
  const card = input.obj('card');
  if (!card) throw missingParam('card');
  const extra: PaymentMethodExtra = {
    billing_details: readBillingDetails(input.obj('billing_details')),
    metadata: input.metadata({}),
  };
  const token = card.str('token');
  if (token) {
    const number = testIdNumber(token);
    if (!number) throw invalidRequest(`No such token: '${token}'`, 'card[token]', 'resource_missing');
    return createCardPaymentMethod(emulator, number, extra);
  }
  const number = card.str('number');
  if (!number) throw missingParam('card[number]');
  return createCardPaymentMethod(
    emulator,
    { number, exp_month: card.int('exp_month'), exp_year: card.int('exp_year'), cvc: card.str('cvc') },
    extra,
  );
}

function update({ emulator, input, pathParams }: ApiRequest): Stripe.PaymentMethod {
  const paymentMethod = resolvePaymentMethod(emulator, pathParams.id, 'payment_method');
  if (!paymentMethod.customer) {
    throw invalidRequest(
      'You must save this PaymentMethod to a customer before you can update it.',
      undefined,
      'payment_method_unexpected_state',
    );
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.paymentMethod, paymentMethod.id, (x) => {
    x.metadata = input.metadata(x.metadata ?? {});
    x.billing_details = { ...x.billing_details, ...readBillingDetails(input.obj('billing_details')) };
    const card = input.obj('card');
    if (card && x.card) {
      x.card.exp_month = card.int('exp_month') ?? x.card.exp_month;
      x.card.exp_year = card.int('exp_year') ?? x.card.exp_year;
    }
    const redisplay = input.oneOf('allow_redisplay', ['always', 'limited', 'unspecified'] as const);
    if (redisplay) x.allow_redisplay = redisplay;
  });
  if (Object.keys(previous).length > 0) emulator.emitEvent('payment_method.updated', obj, previous);
  return obj;
}

/** Lists a customer's payment methods (`type` filter), newest first. */
export function listForCustomer(req: ApiRequest, customerId: string | undefined): unknown {
  const { emulator, input } = req;
  const type = input.str('type');
  const items = emulator.store
    .all(COLLECTIONS.paymentMethod)
    .filter(
      (paymentMethod) =>
        (customerId ? paymentMethod.customer === customerId : true) && (!type || paymentMethod.type === type),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/payment_methods',
    params: [
      'allow_redisplay',
      'billing_details',
      'card',
      'customer',
      'metadata',
      'payment_method',
      'radar_options',
      'type',
    ],
    handler: create,
  },
  {
    method: 'GET',
    path: '/v1/payment_methods',
    params: [
      'allow_redisplay',
      'customer',
      'customer_account',
      'type',
      'limit',
      'starting_after',
      'ending_before',
    ],
    handler: (req) => {
      const customer = req.input.str('customer');
      if (customer) requireCustomer(req.emulator, customer);
      return listForCustomer(req, customer);
    },
  },
  {
    method: 'GET',
    path: '/v1/payment_methods/:id',
    params: [],
    handler: ({ emulator, pathParams }) => resolvePaymentMethod(emulator, pathParams.id, 'payment_method'),
  },
  {
    method: 'POST',
    path: '/v1/payment_methods/:id',
    params: ['allow_redisplay', 'billing_details', 'card', 'metadata'],
    handler: update,
  },
  {
    method: 'POST',
    path: '/v1/payment_methods/:id/attach',
    params: ['customer', 'customer_account'],
    handler: ({ emulator, input, pathParams }) => {
      const customer = input.reqStr('customer');
      requireCustomer(emulator, customer);
      const paymentMethod = resolvePaymentMethod(emulator, pathParams.id, 'payment_method');
      return attachPaymentMethod(emulator, paymentMethod.id, customer);
    },
  },
  {
    method: 'POST',
    path: '/v1/payment_methods/:id/detach',
    params: [],
    handler: ({ emulator, pathParams }) => detachPaymentMethod(emulator, pathParams.id),
  },
];

declare module '../core/collections' {
  interface CollectionRecords {
    _pm_behavior: PaymentMethodBehavior;
  }
}
