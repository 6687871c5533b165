/**
 * Payment intents and charges, as far as invoices, subscriptions and Checkout need them. A charge
 * attempt creates a `ch_…` whose outcome comes from the card (the core's test-card behaviour) and
 * emits `charge.succeeded|failed` then `payment_intent.succeeded|payment_failed`
 * (the order of https://docs.stripe.com/billing/subscriptions/webhooks).
 */
import type Stripe from 'stripe';
import { clientSecret, type Emulator, emit, id, now } from '../context';
import { attachPaymentMethod } from '../../resources/payment-methods';
import { type CardOutcome, cardOutcome } from './cards';
import { disputeIfTestCard } from './disputes';
import { receiptFields } from './receipts';
import { COLLECTIONS } from '../../core/collections';

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
  emulator: Emulator,
  args: {
    amount: number;
    currency: string;
    customer: string | null;
    description?: string | null;
    paymentMethod?: string | null;
    metadata?: Record<string, string>;
    setupFutureUsage?: Stripe.PaymentIntent.SetupFutureUsage | null;
    /** Where the receipt of the payment is sent (https://docs.stripe.com/receipts). */
    receiptEmail?: string | null;
  },
): Stripe.PaymentIntent {
  const paymentIntentId = id('pi');
  const paymentIntent: Stripe.PaymentIntent = {
    id: paymentIntentId,
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
    client_secret: clientSecret(paymentIntentId),
    confirmation_method: 'automatic',
    created: now(emulator, args.customer),
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
    receipt_email: args.receiptEmail ?? null,
    review: null,
    setup_future_usage: args.setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: args.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    transfer_group: null,
  };
  emulator.store.insert(COLLECTIONS.paymentIntent, paymentIntent);
  emit(emulator, 'payment_intent.created', paymentIntent);
  return paymentIntent;
}

/**
 * Confirms `pi` with `paymentMethod`: one charge attempt, its events, and the intent's new
 * status. Does not throw on a decline; the caller decides whether that is a 402. `decidedOutcome`
 * replaces the card's own outcome (an off-session payment its issuer wanted to authenticate).
 */
export function confirmPaymentIntent(
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  paymentMethod: string,
  decidedOutcome?: CardOutcome,
): ChargeResult {
  const customer =
    typeof paymentIntent.customer === 'string'
      ? paymentIntent.customer
      : (paymentIntent.customer?.id ?? null);
  const storedPaymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, paymentMethod) ?? null;
  const outcome = decidedOutcome ?? cardOutcome(emulator, paymentMethod);
  const at = now(emulator, customer);
  const chId = id('ch');
  const charge: Stripe.Charge = {
    id: chId,
    object: 'charge',
    amount: paymentIntent.amount,
    amount_captured: outcome.ok ? paymentIntent.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: outcome.ok ? id('txn') : null,
    billing_details: storedPaymentMethod?.billing_details
      ? {
          address: storedPaymentMethod.billing_details.address,
          email: storedPaymentMethod.billing_details.email,
          name: storedPaymentMethod.billing_details.name,
          phone: storedPaymentMethod.billing_details.phone,
          tax_id: null,
        }
      : { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: 'EMULATOR',
    captured: outcome.ok,
    created: at,
    currency: paymentIntent.currency,
    customer,
    description: paymentIntent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: outcome.ok ? null : outcome.code,
    failure_message: outcome.ok ? null : outcome.message,
    fraud_details: {},
    livemode: false,
    metadata: paymentIntent.metadata,
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
    payment_intent: paymentIntent.id,
    payment_method: paymentMethod,
    payment_method_details: null,
    ...receiptFields(emulator, chId, outcome.ok, paymentIntent.receipt_email),
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
  emulator.store.insert(COLLECTIONS.charge, charge);
  paymentIntent.latest_charge = charge.id;
  paymentIntent.payment_method = paymentMethod;
  if (outcome.ok) {
    paymentIntent.status = 'succeeded';
    paymentIntent.amount_received = paymentIntent.amount;
    paymentIntent.last_payment_error = null;
    emulator.store.put(COLLECTIONS.paymentIntent, paymentIntent);
    emit(emulator, 'charge.succeeded', charge);
    emit(emulator, 'payment_intent.succeeded', paymentIntent);
    saveForFutureUsage(emulator, paymentIntent, storedPaymentMethod);
    disputeIfTestCard(emulator, charge);
    return { ok: true, charge };
  }
  paymentIntent.status = 'requires_payment_method';
  paymentIntent.last_payment_error = {
    type: 'card_error',
    code: outcome.code,
    decline_code: outcome.declineCode,
    message: outcome.message,
    charge: charge.id,
    payment_method: storedPaymentMethod ?? undefined,
  };
  emulator.store.put(COLLECTIONS.paymentIntent, paymentIntent);
  emit(emulator, 'charge.failed', charge);
  emit(emulator, 'payment_intent.payment_failed', paymentIntent);
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
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  reason: Stripe.PaymentIntent.CancellationReason,
): void {
  if (paymentIntent.status === 'canceled' || paymentIntent.status === 'succeeded') return;
  const customer =
    typeof paymentIntent.customer === 'string'
      ? paymentIntent.customer
      : (paymentIntent.customer?.id ?? null);
  paymentIntent.status = 'canceled';
  paymentIntent.canceled_at = now(emulator, customer);
  paymentIntent.cancellation_reason = reason;
  emulator.store.put(COLLECTIONS.paymentIntent, paymentIntent);
  emit(emulator, 'payment_intent.canceled', paymentIntent);
}

export function newSetupIntent(
  emulator: Emulator,
  args: {
    customer: string | null;
    paymentMethod?: string | null;
    metadata?: Record<string, string>;
    usage?: string;
  },
): Stripe.SetupIntent {
  const setupIntentId = id('seti');
  const setupIntent: Stripe.SetupIntent = {
    id: setupIntentId,
    object: 'setup_intent',
    allowed_payment_method_types: null,
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: null,
    client_secret: clientSecret(setupIntentId),
    created: now(emulator, args.customer),
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
  emulator.store.insert(COLLECTIONS.setupIntent, setupIntent);
  emit(emulator, 'setup_intent.created', setupIntent);
  return setupIntent;
}

/**
 * A setup intent that set its card up: `succeeded` (`setup_intent.succeeded`); a subscription waiting on it (its
 * `pending_setup_intent`) takes the card as its default payment method (`customer.subscription.updated`).
 */
export function markSetupSucceeded(
  emulator: Emulator,
  setupIntent: Stripe.SetupIntent,
  paymentMethod: string,
): Stripe.SetupIntent {
  // Only now is the card the customer's ("it automatically attaches the resulting payment method to that Customer
  // after successful setup", https://docs.stripe.com/api/setup_intents): `payment_method.attached`, then
  // `setup_intent.succeeded`. A card already attached (the hosted Checkout page attaches its own) stays as it is.
  const customer = typeof setupIntent.customer === 'string' ? setupIntent.customer : setupIntent.customer?.id;
  if (customer && !emulator.store.get(COLLECTIONS.paymentMethod, paymentMethod)?.customer)
    attachPaymentMethod(emulator, paymentMethod, customer);
  setupIntent.status = 'succeeded';
  setupIntent.payment_method = paymentMethod;
  setupIntent.last_setup_error = null;
  setupIntent.next_action = null;
  emulator.store.put(COLLECTIONS.setupIntent, setupIntent);
  emit(emulator, 'setup_intent.succeeded', setupIntent);
  for (const subscription of emulator.store.all(COLLECTIONS.subscription)) {
    if (subscription.pending_setup_intent === setupIntent.id) {
      const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
        s.pending_setup_intent = null;
        s.default_payment_method = paymentMethod;
      });
      emit(emulator, 'customer.subscription.updated', obj, previous);
    }
  }
  return setupIntent;
}
