/**
 * `/v1/charges`: the charges payment intents make (created in payments.ts), read back the way
 * Stripe serves them (https://docs.stripe.com/api/charges/list, /retrieve). Since API version
 * 2022-11-15 `charge.refunds` is only returned when expanded
 * (https://docs.stripe.com/upgrades#2022-11-15), so it is an includable computed from the refunds.
 */
import type Stripe from 'stripe';
import type { Route } from '../../core/http';
import { type ListObject, listOf, paginate } from '../../core/list';
import { type Emulator, idOf } from '../context';
import { COLLECTIONS } from '../../core/collections';

export function requireCharge(emulator: Emulator, chargeId: string, param = 'id'): Stripe.Charge {
  return emulator.store.require(COLLECTIONS.charge, chargeId, 'charge', param);
}

/** The refunds of a charge, newest first. */
function refundsOfCharge(emulator: Emulator, chargeId: string): Stripe.Refund[] {
  return emulator.store.all(COLLECTIONS.refund).filter((r) => idOf(r.charge) === chargeId);
}

/** `charge.refunds` as Stripe embeds it when expanded: the charge's refunds as a list. */
function embeddedRefunds(emulator: Emulator, charge: Record<string, unknown>): ListObject<Stripe.Refund> {
  const chargeId = String(charge.id);
  return listOf(refundsOfCharge(emulator, chargeId), `/v1/charges/${chargeId}/refunds`);
}

export function setupCharges(emulator: Emulator): void {
  emulator.registerIncludable('charge', 'refunds', (charge) => embeddedRefunds(emulator, charge));
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/v1/charges',
    params: [
      'created',
      'customer',
      'payment_intent',
      'transfer_group',
      'limit',
      'starting_after',
      'ending_before',
    ],
    handler: (req) => {
      const { emulator, input } = req;
      const customer = input.str('customer');
      const paymentIntent = input.str('payment_intent');
      const created = input.range('created');
      const items = emulator.store
        .all(COLLECTIONS.charge)
        .filter(
          (ch) =>
            (!customer || idOf(ch.customer) === customer) &&
            (!paymentIntent || idOf(ch.payment_intent) === paymentIntent) &&
            (!created || created(ch.created)),
        );
      return paginate(items, input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/charges/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requireCharge(emulator, pathParams.id),
  },
  {
    method: 'GET',
    path: '/v1/charges/:id/refunds',
    params: ['limit', 'starting_after', 'ending_before'],
    handler: (req) => {
      const charge = requireCharge(req.emulator, req.pathParams.id);
      return paginate(refundsOfCharge(req.emulator, charge.id), req.input, req.path);
    },
  },
];
