/**
 * What happens when a card is charged: the core's test-card table (`chargeOutcome`), i.e. Stripe's
 * documented test cards (https://docs.stripe.com/testing#declined-payments): 4242… succeeds,
 * …0002 `generic_decline`, …9995 `insufficient_funds`, …0341 attaches but charges fail.
 */
import type Stripe from 'stripe';
import { chargeOutcome } from '../../resources/payment-methods';
import type { Emulator } from '../context';

export type CardOutcome = { ok: true } | { ok: false; code: string; declineCode: string; message: string };

/** `pm`: a payment method (or its id), or a customer's card source id `card_…`. */
export function cardOutcome(
  emulator: Emulator,
  paymentMethod: Stripe.PaymentMethod | string | null,
): CardOutcome {
  if (!paymentMethod) {
    return {
      ok: false,
      code: 'resource_missing',
      declineCode: 'resource_missing',
      message: 'No payment method.',
    };
  }
  const o = chargeOutcome(emulator, typeof paymentMethod === 'string' ? paymentMethod : paymentMethod.id);
  if (o.ok) return { ok: true };
  return { ok: false, code: o.code, declineCode: o.decline_code, message: o.message };
}
