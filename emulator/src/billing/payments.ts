/**
 * Payment intents and charges, as far as invoices, subscriptions and Checkout need them. A charge
 * attempt creates a `ch_…` whose outcome comes from the card (the core's test-card behaviour) and
 * emits `charge.succeeded|failed` then `payment_intent.succeeded|payment_failed`
 * (the order of https://docs.stripe.com/billing/subscriptions/webhooks).
 */
import type Stripe from 'stripe';
import { C, clientSecret, type Emulator, emit, id, now } from './ctx';
import { attachPaymentMethod } from '../resources/payment-methods';
import { cardOutcome } from './cards';

export interface Decline {
  code: string;
  declineCode: string;
  message: string;
}

export interface ChargeResult {
  ok: boolean;
  charge: Stripe.Charge;
  decline?: Decline;
}

export function newPaymentIntent(
  emu: Emulator,
  args: {
    amount: number;
    currency: string;
    customer: string | null;
    description?: string | null;
    paymentMethod?: string | null;
    metadata?: Record<string, string>;
    setupFutureUsage?: Stripe.PaymentIntent.SetupFutureUsage | null;
  },
): Stripe.PaymentIntent {
  const piId = id('pi');
  const pi: Stripe.PaymentIntent = {
    id: piId,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: args.amount,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: clientSecret(piId),
    confirmation_method: 'automatic',
    created: now(emu, args.customer),
    currency: args.currency,
    customer: args.customer,
    customer_account: null,
    description: args.description ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: args.metadata ?? {},
    next_action: null,
    on_behalf_of: null,
    payment_method: args.paymentMethod ?? null,
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: args.setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: args.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    transfer_group: null,
  };
  emu.store.insert(C.paymentIntent, pi);
  emit(emu, 'payment_intent.created', pi);
  return pi;
}

/**
 * Confirms `pi` with `paymentMethod`: one charge attempt, its events, and the intent's new
 * status. Does not throw on a decline; the caller decides whether that is a 402.
 */
export function confirmPaymentIntent(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  paymentMethod: string,
): ChargeResult {
  const customer = typeof pi.customer === 'string' ? pi.customer : (pi.customer?.id ?? null);
  const pm = emu.store.get<Stripe.PaymentMethod>(C.paymentMethod, paymentMethod) ?? null;
  const outcome = cardOutcome(emu, paymentMethod);
  const at = now(emu, customer);
  const chId = id('ch');
  const charge: Stripe.Charge = {
    id: chId,
    object: 'charge',
    amount: pi.amount,
    amount_captured: outcome.ok ? pi.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: outcome.ok ? id('txn') : null,
    billing_details: pm?.billing_details
      ? {
          address: pm.billing_details.address,
          email: pm.billing_details.email,
          name: pm.billing_details.name,
          phone: pm.billing_details.phone,
          tax_id: null,
        }
      : { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: 'EMULATOR',
    captured: outcome.ok,
    created: at,
    currency: pi.currency,
    customer,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: outcome.ok ? null : outcome.code,
    failure_message: outcome.ok ? null : outcome.message,
    fraud_details: {},
    livemode: false,
    metadata: pi.metadata,
    on_behalf_of: null,
    outcome: {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: outcome.ok ? 'approved_by_network' : 'declined_by_network',
      reason: outcome.ok ? null : outcome.declineCode,
      risk_level: 'normal',
      seller_message: outcome.ok
        ? 'Payment complete.'
        : 'The bank did not return any further details with this decline.',
      type: outcome.ok ? 'authorized' : 'issuer_declined',
    },
    paid: outcome.ok,
    payment_intent: pi.id,
    payment_method: paymentMethod,
    payment_method_details: null,
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: outcome.ok ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
  emu.store.insert(C.charge, charge);
  pi.latest_charge = charge.id;
  pi.payment_method = paymentMethod;
  if (outcome.ok) {
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    pi.last_payment_error = null;
    emu.store.put(C.paymentIntent, pi);
    emit(emu, 'charge.succeeded', charge);
    emit(emu, 'payment_intent.succeeded', pi);
    saveForFutureUsage(emu, pi, pm);
    return { ok: true, charge };
  }
  pi.status = 'requires_payment_method';
  pi.last_payment_error = {
    type: 'card_error',
    code: outcome.code,
    decline_code: outcome.declineCode,
    message: outcome.message,
    charge: charge.id,
    payment_method: pm ?? undefined,
  };
  emu.store.put(C.paymentIntent, pi);
  emit(emu, 'charge.failed', charge);
  emit(emu, 'payment_intent.payment_failed', pi);
  return {
    ok: false,
    charge,
    decline: { code: outcome.code, declineCode: outcome.declineCode, message: outcome.message },
  };
}

/**
 * `setup_future_usage` "attach[es] the payment method to the Customer after the PaymentIntent is confirmed"
 * (the SDK's PaymentIntent params; https://docs.stripe.com/payments/save-during-payment): only on success, only
 * with a customer, and only a card not attached yet.
 */
function saveForFutureUsage(
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  paymentMethod: Stripe.PaymentMethod | null,
): void {
  const customer =
    typeof paymentIntent.customer === 'string'
      ? paymentIntent.customer
      : (paymentIntent.customer?.id ?? null);
  if (!paymentIntent.setup_future_usage || !customer || !paymentMethod || paymentMethod.customer) return;
  attachPaymentMethod(emulator, paymentMethod.id, customer);
}

export function cancelPaymentIntent(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  reason: Stripe.PaymentIntent.CancellationReason,
): void {
  if (pi.status === 'canceled' || pi.status === 'succeeded') return;
  const customer = typeof pi.customer === 'string' ? pi.customer : (pi.customer?.id ?? null);
  pi.status = 'canceled';
  pi.canceled_at = now(emu, customer);
  pi.cancellation_reason = reason;
  emu.store.put(C.paymentIntent, pi);
  emit(emu, 'payment_intent.canceled', pi);
}

export function newSetupIntent(
  emu: Emulator,
  args: {
    customer: string | null;
    paymentMethod?: string | null;
    metadata?: Record<string, string>;
    usage?: string;
  },
): Stripe.SetupIntent {
  const siId = id('seti');
  const si: Stripe.SetupIntent = {
    id: siId,
    object: 'setup_intent',
    allowed_payment_method_types: null,
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: null,
    client_secret: clientSecret(siId),
    created: now(emu, args.customer),
    customer: args.customer,
    description: null,
    excluded_payment_method_types: null,
    last_setup_error: null,
    latest_attempt: null,
    livemode: false,
    mandate: null,
    metadata: args.metadata ?? {},
    next_action: null,
    on_behalf_of: null,
    payment_method: args.paymentMethod ?? null,
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ['card'],
    single_use_mandate: null,
    status: args.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    usage: args.usage ?? 'off_session',
  };
  emu.store.insert(C.setupIntent, si);
  emit(emu, 'setup_intent.created', si);
  return si;
}
