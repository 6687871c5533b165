/**
 * `/v1/refunds` (https://docs.stripe.com/api/refunds): a refund of a succeeded charge, named by
 * the charge or by its payment intent, full or partial, repeatable until nothing is left. Card
 * refunds succeed at once in test mode. What Stripe checks and answers:
 * - a charge with nothing left: 400 `charge_already_refunded`, "Charge ch_… has already been
 *   refunded." (answers quoted by integrators in Sylius/StripePlugin#23 and
 *   strangerstudios/paid-memberships-pro#3811);
 * - more than is left: 400 `amount_too_large`, "Refund amount ($25.00) is greater than
 *   unrefunded amount on charge ($21.45)" (or "… than charge amount (…)" before any refund;
 *   reactioncommerce/reaction#3704, woocommerce-gateway-stripe#1315, HealthByRo/aa-stripe#77);
 * - a charged-back charge: 400 `charge_disputed`, "Charge ch_… has been charged back; cannot
 *   issue a refund." (Sylius/StripePlugin#23); an inquiry leaves the charge refundable
 *   (`dispute.is_charge_refundable`);
 * - a payment intent without a succeeded charge: 400 `charge_not_refundable`.
 * Events (the SDK's event descriptions, stripe 23.1.0 `Events.d.ts`): `charge.refunded` ("whenever a
 * charge is refunded, including partial refunds") and `refund.created`; a metadata update sends
 * `charge.refund.updated` and `refund.updated` (the Stripe CLI's `charge.refund.updated` fixture
 * is exactly such an update of a card refund).
 * A refund does not touch the invoice the charge paid: the invoice stays `paid` and its invoice
 * payment `paid` (Stripe adjusts a paid invoice only through credit notes,
 * https://docs.stripe.com/invoicing/integration/programmatic-credit-notes; to refund an invoice,
 * refund its payment intent, https://docs.stripe.com/tax/invoicing/refunds).
 */
import type Stripe from 'stripe';
import { invalidRequest, missingParam } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { requireCharge } from './charges-routes';
import { type Emulator, emit, id, idOf, now } from '../context';
import { COLLECTIONS } from '../../core/collections';

const REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

function requireRefund(emulator: Emulator, refundId: string): Stripe.Refund {
  return emulator.store.require(COLLECTIONS.refund, refundId, 'refund');
}

/** The charge a refund request names, by `charge` or by `payment_intent` (its succeeded charge). */
function chargeToRefund(emulator: Emulator, input: ParamReader): Stripe.Charge {
  const chargeId = input.str('charge');
  const paymentIntentId = input.str('payment_intent');
  if (!chargeId && !paymentIntentId) throw missingParam('charge');
  if (chargeId) {
    const charge = requireCharge(emulator, chargeId, 'charge');
    if (paymentIntentId && idOf(charge.payment_intent) !== paymentIntentId) {
      throw invalidRequest(
        `The charge ${charge.id} does not belong to the PaymentIntent ${paymentIntentId}.`,
        'payment_intent',
      );
    }
    return charge;
  }
  const intent = emulator.store.require(
    COLLECTIONS.paymentIntent,
    paymentIntentId ?? '',
    'payment_intent',
    'payment_intent',
  );
  const latest = idOf(intent.latest_charge);
  if (intent.status !== 'succeeded' || !latest) {
    throw invalidRequest(
      `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
      'payment_intent',
      'charge_not_refundable',
    );
  }
  return requireCharge(emulator, latest, 'payment_intent');
}

/** A chargeback (not an inquiry) takes the money back itself: Stripe refuses a refund on top. */
function isChargedBack(emulator: Emulator, charge: Stripe.Charge): boolean {
  return emulator.store
    .all(COLLECTIONS.dispute)
    .some((d) => idOf(d.charge) === charge.id && !d.is_charge_refundable);
}

/** Integer minor units as Stripe writes them in refund errors: "$25.00", "£93.90". */
function displayAmount(minor: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const symbol = format.formatToParts(0).find((part) => part.type === 'currency')?.value ?? '';
  const scale = 10 ** digits;
  const whole = Math.floor(minor / scale);
  const fraction = digits > 0 ? `.${String(minor % scale).padStart(digits, '0')}` : '';
  return `${symbol}${whole}${fraction}`;
}

/** The amount to refund: all that is left by default, else `amount` if it fits. */
function refundAmount(input: ParamReader, charge: Stripe.Charge): number {
  const left = charge.amount - charge.amount_refunded;
  const requested = input.int('amount');
  if (requested === undefined) return left;
  if (requested <= 0) throw invalidRequest('Invalid positive integer', 'amount');
  if (requested > left) {
    const against =
      charge.amount_refunded > 0
        ? `unrefunded amount on charge (${displayAmount(left, charge.currency)})`
        : `charge amount (${displayAmount(charge.amount, charge.currency)})`;
    throw invalidRequest(
      `Refund amount (${displayAmount(requested, charge.currency)}) is greater than ${against}`,
      'amount',
      'amount_too_large',
    );
  }
  return requested;
}

export function assertRefundable(emulator: Emulator, charge: Stripe.Charge): void {
  if (charge.status !== 'succeeded') {
    throw invalidRequest(
      `Charge ${charge.id} has not succeeded, so it cannot be refunded.`,
      'charge',
      'charge_not_refundable',
    );
  }
  if (isChargedBack(emulator, charge)) {
    throw invalidRequest(
      `Charge ${charge.id} has been charged back; cannot issue a refund.`,
      undefined,
      'charge_disputed',
    );
  }
  if (charge.refunded) {
    throw invalidRequest(
      `Charge ${charge.id} has already been refunded.`,
      undefined,
      'charge_already_refunded',
    );
  }
}

function createRefund({ emulator, input }: ApiRequest): Stripe.Refund {
  const charge = chargeToRefund(emulator, input);
  assertRefundable(emulator, charge);
  const amount = refundAmount(input, charge);
  return issueRefund(emulator, charge, amount, input.oneOf('reason', REASONS) ?? null, input.metadata({}));
}

/**
 * Refunds `amount` of a refundable charge (checked by the caller): the refund, the charge's refunded amount,
 * `charge.refunded` and `refund.created`. Credit notes with a `refund_amount` refund through it too.
 */
export function issueRefund(
  emulator: Emulator,
  charge: Stripe.Charge,
  amount: number,
  reason: Stripe.Refund.Reason | null,
  metadata: Stripe.Metadata,
): Stripe.Refund {
  const customer = idOf(charge.customer);
  const refund: Stripe.Refund = {
    id: id('re'),
    object: 'refund',
    amount,
    balance_transaction: id('txn'),
    charge: charge.id,
    created: now(emulator, customer),
    currency: charge.currency,
    customer,
    customer_account: null,
    destination_details: { card: { type: 'refund' }, type: 'card' },
    metadata,
    payment_intent: idOf(charge.payment_intent),
    payment_method: charge.payment_method,
    reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  emulator.store.insert(COLLECTIONS.refund, refund);
  const { obj, previous } = emulator.store.update(COLLECTIONS.charge, charge.id, (ch) => {
    ch.amount_refunded += amount;
    ch.refunded = ch.amount_refunded >= ch.amount;
  });
  emit(emulator, 'charge.refunded', obj, previous);
  emit(emulator, 'refund.created', refund);
  return refund;
}

function updateRefund({ emulator, input, pathParams }: ApiRequest): Stripe.Refund {
  requireRefund(emulator, pathParams.id);
  const { obj, previous } = emulator.store.update(COLLECTIONS.refund, pathParams.id, (r) => {
    r.metadata = input.metadata(r.metadata ?? {});
  });
  if (Object.keys(previous).length > 0) {
    emit(emulator, 'charge.refund.updated', obj, previous);
    emit(emulator, 'refund.updated', obj, previous);
  }
  return obj;
}

function listRefunds(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const charge = input.str('charge');
  const paymentIntent = input.str('payment_intent');
  const created = input.range('created');
  const items = emulator.store
    .all(COLLECTIONS.refund)
    .filter(
      (r) =>
        (!charge || idOf(r.charge) === charge) &&
        (!paymentIntent || idOf(r.payment_intent) === paymentIntent) &&
        (!created || created(r.created)),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/refunds',
    // The SDK's RefundCreateParams; `currency`, `customer`, `origin`, `instructions_email`,
    // `refund_application_fee` and `reverse_transfer` are accepted but not acted on.
    params: [
      'amount',
      'charge',
      'currency',
      'customer',
      'instructions_email',
      'metadata',
      'origin',
      'payment_intent',
      'reason',
      'refund_application_fee',
      'reverse_transfer',
    ],
    handler: createRefund,
  },
  {
    method: 'GET',
    path: '/v1/refunds',
    params: ['charge', 'created', 'payment_intent', 'limit', 'starting_after', 'ending_before'],
    handler: listRefunds,
  },
  {
    method: 'GET',
    path: '/v1/refunds/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requireRefund(emulator, pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/refunds/:id',
    params: ['metadata'],
    handler: updateRefund,
  },
];
