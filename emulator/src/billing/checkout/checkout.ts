/**
 * Checkout Sessions (https://docs.stripe.com/api/checkout/sessions) in `payment`, `subscription`
 * and `setup` mode, and their completion — shared by the hosted page, `POST
 * /_emulator/checkout/sessions/{id}/complete` and the CLI's `payment_pages/{id}/confirm`.
 * Completion follows the facts file's order for subscription mode: `customer.created` →
 * `payment_method.attached` → `customer.subscription.created` → invoice events → payment events →
 * `customer.subscription.updated` → `checkout.session.completed` (last).
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { newId } from '../../core/ids';
import { paginate } from '../../core/list';
import { ParamReader, type Params } from '../../core/params';
import { requireCustomer, requirePrice } from '../../resources/common';
import { createCustomerFromParams } from '../../resources/customers';
import { attachPaymentMethod } from '../../resources/payment-methods';
import { createPrice } from '../../resources/prices';
import { cardOutcome } from '../payments/cards';
import { type Emulator, emit, idOf, now } from '../context';
import { newSetupIntent } from '../payments/payments';
import { isMetered, priceAmount, priceProductId, refuseMeteredQuantity } from '../pricing';
import { createSubscription } from '../subscriptions/create-subscription';
import { hostedUrl, learnOrigin } from '../urls';
import { COLLECTIONS } from '../../core/collections';
import { checkoutCurrency, priceLinesIn } from './checkout-currency';
import {
  type PaymentIntentData,
  payForSession,
  readInvoiceCreation,
  readPaymentIntentData,
  invoiceItemOfLine,
} from './checkout-payment';
import { addressParams, applyCheckoutTax, taxCollectedAddress } from './checkout-tax';
import {
  applySessionDiscount,
  completionDiscounts,
  readSessionDiscounts,
  redeemForPaidSession,
} from '../discounts/checkout-discounts';

type Session = Stripe.Checkout.Session;

export function requireSession(emulator: Emulator, sessionId: string): Session {
  return emulator.store.require(COLLECTIONS.checkoutSession, sessionId, 'checkout.session');
}

function productName(emulator: Emulator, price: Stripe.Price): string {
  return emulator.store.get(COLLECTIONS.product, priceProductId(price))?.name ?? price.id;
}

interface SessionExtras {
  id: string;
  trialPeriodDays: number | null;
  trialEnd: number | null;
  subscriptionMetadata: Record<string, string>;
  /** Payment mode's `payment_intent_data` (absent in state saved before it was kept). */
  paymentIntentData?: PaymentIntentData;
}

function create(req: ApiRequest): Session {
  const { emulator, input } = req;
  learnOrigin(emulator, req.headers.host);
  const mode = input.oneOf('mode', ['payment', 'subscription', 'setup'] as const);
  if (!mode) throw invalidRequest('Missing required param: mode.', 'mode', 'parameter_missing');
  const customerId = input.str('customer') ?? null;
  const customer = customerId ? requireCustomer(emulator, customerId) : null;
  const at = now(emulator, customerId);
  const sessionId = newId('cs_test', 58);
  const lineItems = readLineItems(emulator, input, mode);
  const paymentIntentData = readPaymentIntentData(input, mode);
  const currency = checkoutCurrency(input, customer, lineItems);
  if (currency && mode !== 'setup') priceLinesIn(lineItems, currency);
  const expiresAt = input.int('expires_at') ?? at + 86_400;
  if (expiresAt < at + 1800 || expiresAt > at + 86_400) {
    throw invalidRequest(
      'The `expires_at` timestamp must be between 30 minutes and 24 hours from now.',
      'expires_at',
    );
  }
  const session: Session = inStripeKeyOrder({
    ...inertSessionFields(),
    ...customerFields(input, customer, mode),
    ...amountFields(input, mode, lineItems),
    id: sessionId,
    object: 'checkout.session',
    allow_promotion_codes: input.bool('allow_promotion_codes') ?? null,
    cancel_url: input.str('cancel_url') ?? null,
    client_reference_id: input.str('client_reference_id') ?? null,
    created: at,
    expires_at: expiresAt,
    invoice_creation: readInvoiceCreation(input, mode),
    line_items: {
      object: 'list',
      data: lineItems,
      has_more: false,
      url: `/v1/checkout/sessions/${sessionId}/line_items`,
    },
    metadata: input.metadata({}),
    mode,
    payment_method_collection: mode === 'payment' ? null : 'always',
    payment_status: mode === 'setup' ? 'no_payment_required' : 'unpaid',
    status: 'open',
    success_url: input.str('success_url') ?? null,
    url: hostedUrl(emulator, `/checkout/pay/${sessionId}`),
  });
  if (!session.success_url && mode !== 'setup' && !input.str('return_url')) {
    throw invalidRequest('Missing required param: success_url.', 'success_url', 'parameter_missing');
  }
  if (mode !== 'setup')
    applySessionDiscount(session, readSessionDiscounts(emulator, input, session, customer));
  applyCheckoutTax(emulator, session, customer, input);
  emulator.store.insert(COLLECTIONS.checkoutSession, session);
  const subscriptionData = input.obj('subscription_data');
  emulator.store.put(COLLECTIONS.checkoutExtras, {
    id: sessionId,
    trialPeriodDays: subscriptionData?.int('trial_period_days') ?? null,
    trialEnd: subscriptionData?.int('trial_end') ?? null,
    subscriptionMetadata: subscriptionData ? subscriptionData.metadata({}) : {},
    paymentIntentData,
  });
  return session;
}

type SessionMode = Session['mode'];

/** Stripe's key order: `id`, `object`, then the rest alphabetically (the object is built from parts). */
function inStripeKeyOrder<T extends { id: string; object: string }>(object: T): T {
  const { id, object: kind, ...rest } = object;
  const sorted = Object.keys(rest)
    .sort()
    .map((key) => [key, rest[key as keyof typeof rest]]);
  return { id, object: kind, ...Object.fromEntries(sorted) } as T;
}

/** `line_items[i]`: a price or `price_data`, and a quantity unless the price is metered. */
function readLineItems(emulator: Emulator, input: ParamReader, mode: SessionMode): Stripe.LineItem[] {
  const lineReaders = input.objArray('line_items') ?? [];
  if (mode !== 'setup' && lineReaders.length === 0) {
    throw invalidRequest('Missing required param: line_items.', 'line_items', 'parameter_missing');
  }
  const lineItems: Stripe.LineItem[] = lineReaders.map((line, i) => {
    const priceData = line.obj('price_data');
    const price = priceData
      ? createPrice(emulator, priceData, { inline: true })
      : requirePrice(emulator, line.reqStr('price'), `line_items[${i}][price]`);
    if (mode === 'payment' && price.type === 'recurring') {
      // The live API's answer (as integrators quote it).
      throw invalidRequest(
        'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
        `line_items[${i}][price]`,
      );
    }
    refuseMeteredQuantity(price, line.int('quantity'), `line_items[${i}]`);
    // A metered price has no quantity and costs nothing up front: its usage is billed after each period.
    const metered = isMetered(price);
    const quantity = metered ? null : (line.int('quantity') ?? 1);
    const amount = quantity === null ? 0 : priceAmount(price, quantity);
    return {
      id: newId('li'),
      object: 'item',
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: productName(emulator, price),
      metadata: {},
      price,
      quantity,
    };
  });
  if (mode === 'subscription' && !lineItems.some((l) => l.price?.type === 'recurring')) {
    throw invalidRequest(
      'You must provide at least one recurring price in `subscription` mode when using prices.',
      'line_items',
    );
  }
  return lineItems;
}

function customerFields(
  input: ParamReader,
  customer: Stripe.Customer | null,
  mode: SessionMode,
): Pick<Session, 'customer' | 'customer_creation' | 'customer_details' | 'customer_email'> {
  return {
    customer: customer?.id ?? null,
    customer_creation: customer
      ? null
      : (input.oneOf('customer_creation', ['always', 'if_required'] as const) ??
        (mode === 'payment' ? 'if_required' : 'always')),
    customer_details: customer
      ? {
          address: null,
          business_name: null,
          email: customer.email,
          individual_name: null,
          name: customer.name ?? null,
          phone: null,
          tax_exempt: 'none',
          tax_ids: [],
        }
      : null,
    customer_email: input.str('customer_email') ?? null,
  };
}

/** Amounts and currency: a setup session has none. */
function amountFields(
  input: ParamReader,
  mode: SessionMode,
  lineItems: Stripe.LineItem[],
): Pick<Session, 'amount_subtotal' | 'amount_total' | 'currency' | 'total_details'> {
  const total = lineItems.reduce((sum, line) => sum + line.amount_total, 0);
  const currency = lineItems[0]?.currency ?? input.str('currency') ?? 'usd';
  return {
    amount_subtotal: mode === 'setup' ? null : total,
    amount_total: mode === 'setup' ? null : total,
    currency: mode === 'setup' ? (input.str('currency') ?? null) : currency,
    total_details: mode === 'setup' ? null : { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
  };
}

/** The fields of features the emulator does not offer (tax, shipping, promotion codes …): always the same. */
function inertSessionFields(): Pick<Session, InertSessionField> {
  return {
    adaptive_pricing: null,
    after_expiration: null,
    allowed_payment_method_types: null,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer_account: null,
    discounts: [],
    integration_identifier: null,
    invoice: null,
    livemode: false,
    locale: null,
    managed_payments: null,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: ['card'],
    permissions: null,
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    submit_type: null,
    subscription: null,
    ui_mode: 'hosted_page',
    wallet_options: null,
  };
}

type InertSessionField =
  | 'adaptive_pricing'
  | 'after_expiration'
  | 'allowed_payment_method_types'
  | 'automatic_tax'
  | 'billing_address_collection'
  | 'client_secret'
  | 'collected_information'
  | 'consent'
  | 'consent_collection'
  | 'currency_conversion'
  | 'custom_fields'
  | 'custom_text'
  | 'customer_account'
  | 'discounts'
  | 'integration_identifier'
  | 'invoice'
  | 'livemode'
  | 'locale'
  | 'managed_payments'
  | 'origin_context'
  | 'payment_intent'
  | 'payment_link'
  | 'payment_method_configuration_details'
  | 'payment_method_options'
  | 'payment_method_types'
  | 'permissions'
  | 'recovered_from'
  | 'saved_payment_method_options'
  | 'setup_intent'
  | 'shipping_address_collection'
  | 'shipping_cost'
  | 'shipping_options'
  | 'submit_type'
  | 'subscription'
  | 'ui_mode'
  | 'wallet_options';

/** The success URL with Stripe's `{CHECKOUT_SESSION_ID}` template filled in. */
export function successRedirect(session: Session): string | null {
  return session.success_url ? session.success_url.split('{CHECKOUT_SESSION_ID}').join(session.id) : null;
}

function ensureOpen(emulator: Emulator, session: Session): void {
  if (session.status === 'open' && session.expires_at <= now(emulator, idOf(session.customer)))
    expire(emulator, session);
  if (session.status !== 'open') {
    throw invalidRequest(
      `This Checkout Session is no longer active (status: ${session.status}).`,
      undefined,
      'checkout_session_inactive',
    );
  }
}

export function expire(emulator: Emulator, session: Session): Session {
  const { obj } = emulator.store.update(COLLECTIONS.checkoutSession, session.id, (s) => {
    s.status = 'expired';
    s.url = null;
  });
  emit(emulator, 'checkout.session.expired', obj);
  return obj;
}

/**
 * Completes an open session with payment method `paymentMethodId` (already created): what Stripe does when
 * the customer submits the hosted page. A declined card throws a 402 card error and leaves the
 * session open (the page re-shows the form).
 */
export function completeSession(
  emulator: Emulator,
  session: Session,
  paymentMethodId: string,
  email: string | null,
  /** The billing address the page collected (automatic tax). */
  address: Stripe.Address | null = null,
): Session {
  ensureOpen(emulator, session);
  const paymentMethod = emulator.store.require(COLLECTIONS.paymentMethod, paymentMethodId, 'payment_method');
  const outcome = cardOutcome(emulator, paymentMethod.id);
  // Checkout validates the card before creating anything: a decline leaves no trace but the error.
  if (!outcome.ok && session.mode !== 'setup')
    throw cardError(outcome.code, outcome.message, outcome.declineCode);
  const sessionCustomer = idOf(session.customer);
  const discounts = completionDiscounts(
    emulator,
    session,
    sessionCustomer ? requireCustomer(emulator, sessionCustomer) : null,
  );

  let customerId = idOf(session.customer);
  const needCustomer =
    session.mode !== 'payment' ||
    session.customer_creation === 'always' ||
    session.invoice_creation?.enabled === true;
  if (!customerId && needCustomer) {
    const params: Params = addressParams(address);
    const mail = session.customer_email ?? email;
    if (mail) params.email = mail;
    const c = createCustomerFromParams(emulator, new ParamReader(params));
    customerId = c.id;
  }
  // A one-time payment saves the card only when asked to (`payment_intent_data[setup_future_usage]`, then once it
  // succeeded: https://docs.stripe.com/payments/save-during-payment).
  if (customerId && paymentMethod.customer !== customerId && session.mode !== 'payment')
    attachPaymentMethod(emulator, paymentMethod.id, customerId);
  taxCollectedAddress(emulator, session, customerId, address);
  const extras = emulator.store.get(COLLECTIONS.checkoutExtras, session.id);
  const lines = session.line_items?.data ?? [];
  const update: Partial<Session> = { customer: customerId };

  if (session.mode === 'subscription' && customerId) {
    const customer = requireCustomer(emulator, customerId);
    const at = now(emulator, customerId);
    // One-time prices in subscription mode are billed once, on the first invoice.
    for (const l of lines) {
      if (!l.price || l.price.type === 'recurring') continue;
      invoiceItemOfLine(emulator, customer, l, at);
    }
    const subscription = createSubscription(emulator, {
      customer,
      items: lines.flatMap((l) =>
        l.price?.type === 'recurring'
          ? [{ price: l.price, quantity: l.quantity ?? undefined, metadata: {} }]
          : [],
      ),
      trialEnd: extras?.trialEnd ?? (extras?.trialPeriodDays ? at + extras.trialPeriodDays * 86_400 : null),
      trialFromPlan: false,
      missingPaymentMethod: 'create_invoice',
      paymentBehavior: 'allow_incomplete',
      defaultPaymentMethod: paymentMethod.id,
      billingCycleAnchor: null,
      cancelAt: null,
      cancelAtPeriodEnd: false,
      collectionMethod: 'charge_automatically',
      daysUntilDue: null,
      description: null,
      metadata: extras?.subscriptionMetadata ?? {},
      prorationBehavior: 'create_prorations',
      automaticTax: session.automatic_tax.enabled,
      currency: session.currency ?? undefined,
      discounts,
    });
    update.subscription = subscription.id;
    update.invoice = idOf(subscription.latest_invoice);
    update.payment_status = subscription.status === 'trialing' ? 'no_payment_required' : 'paid';
    if (subscription.status === 'incomplete')
      throw cardError('card_declined', 'Your card was declined.', 'generic_decline');
  } else if (session.mode === 'payment') {
    const paid = payForSession(emulator, session, customerId, paymentMethod.id, {
      metadata: {},
      description: null,
      receiptEmail: null,
      setupFutureUsage: null,
      ...extras?.paymentIntentData,
    });
    redeemForPaidSession(emulator, session, discounts, customerId);
    Object.assign(update, paid);
    update.payment_status = 'paid';
  } else {
    const setupIntent = newSetupIntent(emulator, { customer: customerId, paymentMethod: paymentMethod.id });
    setupIntent.status = 'succeeded';
    emulator.store.put(COLLECTIONS.setupIntent, setupIntent);
    emit(emulator, 'setup_intent.succeeded', setupIntent);
    update.setup_intent = setupIntent.id;
  }
  const customer = customerId ? emulator.store.get(COLLECTIONS.customer, customerId) : undefined;
  const { obj } = emulator.store.update(COLLECTIONS.checkoutSession, session.id, (s) => {
    Object.assign(s, update);
    s.status = 'complete';
    s.url = null;
    s.customer_details = {
      address: address ?? customer?.address ?? null,
      business_name: null,
      email: customer?.email ?? session.customer_email ?? email,
      individual_name: null,
      name: customer?.name ?? null,
      phone: null,
      tax_exempt: 'none',
      tax_ids: [],
    };
  });
  emit(emulator, 'checkout.session.completed', obj);
  return obj;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const customer = input.str('customer');
  const subscription = input.str('subscription');
  const paymentIntent = input.str('payment_intent');
  const status = input.str('status');
  const items = emulator.store
    .all(COLLECTIONS.checkoutSession)
    .filter(
      (s) =>
        (!customer || idOf(s.customer) === customer) &&
        (!subscription || idOf(s.subscription) === subscription) &&
        (!paymentIntent || idOf(s.payment_intent) === paymentIntent) &&
        (!status || s.status === status),
    );
  return paginate(items, input, req.path);
}

export function setupCheckout(emulator: Emulator): void {
  emulator.registerIncludable('checkout.session', 'line_items');
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/checkout/sessions', handler: create },
  { method: 'GET', path: '/v1/checkout/sessions', handler: list },
  {
    method: 'GET',
    path: '/v1/checkout/sessions/:id',
    handler: (req) => requireSession(req.emulator, req.pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/checkout/sessions/:id',
    handler: ({ emulator, input, pathParams }) => {
      const s = requireSession(emulator, pathParams.id);
      if (input.has('metadata')) s.metadata = input.metadata(s.metadata ?? {});
      emulator.store.put(COLLECTIONS.checkoutSession, s);
      return s;
    },
  },
  {
    method: 'POST',
    path: '/v1/checkout/sessions/:id/expire',
    handler: ({ emulator, pathParams }) => {
      const s = requireSession(emulator, pathParams.id);
      if (s.status !== 'open') {
        throw invalidRequest(
          `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${s.status}".`,
        );
      }
      return expire(emulator, s);
    },
  },
  {
    method: 'GET',
    path: '/v1/checkout/sessions/:id/line_items',
    handler: (req) =>
      paginate(requireSession(req.emulator, req.pathParams.id).line_items?.data ?? [], req.input, req.path),
  },
];

declare module '../../core/collections' {
  interface CollectionRecords {
    _billing_checkout_extras: SessionExtras;
  }
}
