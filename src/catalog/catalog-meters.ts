import type Stripe from 'stripe';
import type { MeteredPrice } from '../services/plans/plan.types';
import { METER_CUSTOMER_PAYLOAD_KEY, METER_VALUE_PAYLOAD_KEY } from '../services/stripe/meter-events';
import { syncKey } from './catalog-keys';
import type { SyncReport } from './catalog-report';

/** Stripe cannot change a meter's aggregation or payload keys; a file that asks for that needs a person. */
export class MeterConflictError extends Error {
  constructor(eventName: string, meterId: string, difference: string) {
    super(
      `Stripe meter ${meterId} for event ${eventName} ${difference}, and a meter's aggregation and payload keys ` +
        'cannot be changed: give the metered price a new meterEventName in plans/plans.yaml, or deactivate the ' +
        'old meter in the Dashboard first (its usage stops being billed).',
    );
    this.name = 'MeterConflictError';
  }
}

export async function listAllMeters(stripe: Stripe): Promise<Stripe.Billing.Meter[]> {
  const meters: Stripe.Billing.Meter[] = [];
  for await (const meter of stripe.billing.meters.list({ limit: 100 })) meters.push(meter);
  return meters;
}

/**
 * Makes the Billing Meter behind a metered price exist and match; returns its id. Stripe allows one active
 * meter per event name, so the event name is the meter's identity. An inactive meter with the right settings
 * is reactivated rather than replaced, which keeps its usage history.
 */
export async function syncMeter(
  stripe: Stripe,
  existing: readonly Stripe.Billing.Meter[],
  price: MeteredPrice,
  report: SyncReport,
): Promise<string> {
  const what = `${price.meterEventName} (${price.aggregation})`;
  const sameEvent = existing.filter((meter) => meter.event_name === price.meterEventName);
  const active = sameEvent.find((meter) => meter.status === 'active');
  const candidate = active ?? sameEvent.find((meter) => conflictOf(meter, price) === null);

  if (!candidate) {
    const params: Stripe.Billing.MeterCreateParams = {
      display_name: price.productName,
      event_name: price.meterEventName,
      default_aggregation: { formula: price.aggregation },
      customer_mapping: { type: 'by_id', event_payload_key: METER_CUSTOMER_PAYLOAD_KEY },
      value_settings: { event_payload_key: METER_VALUE_PAYLOAD_KEY },
    };
    // Naming the inactive meters already there keeps the key fresh if one was deactivated by hand since.
    const after = sameEvent.map((meter) => meter.id).join(',') || 'none';
    const created = await stripe.billing.meters.create(params, {
      idempotencyKey: syncKey(`meter:create:${price.meterEventName}:after:${after}`, params),
    });
    report.add('created', 'meter', created.id, what);
    return created.id;
  }

  const conflict = conflictOf(candidate, price);
  if (conflict) throw new MeterConflictError(price.meterEventName, candidate.id, conflict);

  let action: 'unchanged' | 'updated' = 'unchanged';
  if (candidate.status !== 'active') {
    await stripe.billing.meters.reactivate(
      candidate.id,
      {},
      {
        idempotencyKey: syncKey(`meter:reactivate:${candidate.id}:${candidate.updated}`, {}),
      },
    );
    action = 'updated';
  }
  if (candidate.display_name !== price.productName) {
    const params: Stripe.Billing.MeterUpdateParams = { display_name: price.productName };
    await stripe.billing.meters.update(candidate.id, params, {
      idempotencyKey: syncKey(`meter:update:${candidate.id}:${candidate.updated}`, params),
    });
    action = 'updated';
  }
  report.add(action, 'meter', candidate.id, what);
  return candidate.id;
}

/** How a meter differs from the price in what Stripe cannot change, or null when it does not. */
function conflictOf(meter: Stripe.Billing.Meter, price: MeteredPrice): string | null {
  if (meter.default_aggregation.formula !== price.aggregation) {
    return `aggregates with ${meter.default_aggregation.formula}, the file says ${price.aggregation}`;
  }
  if (meter.customer_mapping.event_payload_key !== METER_CUSTOMER_PAYLOAD_KEY) {
    return `reads the customer from ${meter.customer_mapping.event_payload_key}, not ${METER_CUSTOMER_PAYLOAD_KEY}`;
  }
  if (meter.value_settings.event_payload_key !== METER_VALUE_PAYLOAD_KEY) {
    return `reads the value from ${meter.value_settings.event_payload_key}, not ${METER_VALUE_PAYLOAD_KEY}`;
  }
  return null;
}
