/**
 * `POST /v1/invoices/create_preview` (https://docs.stripe.com/api/invoices/create_preview): the
 * invoice a proposed subscription change would produce, computed with the same functions as the
 * real change, never stored and without events. With `proration_behavior=always_invoice` it is the
 * invoice due now (the prorations); otherwise the next renewal invoice, which includes the
 * prorations the change would leave pending.
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../core/errors';
import type { ApiRequest } from '../core/http';
import { requireCustomer } from '../resources/common';
import { C, type Emulator, now } from './ctx';
import { buildInvoice, buildLine, type LineSpec } from './invoice-objects';
import { customerIdOf, invoiceItemLine, pendingItems, recomputeTotals } from './invoices';
import { addIntervals } from './math';
import { recurringOf } from './pricing';
import { subPeriod } from './subscription-objects';
import {
  licensedLines,
  meteredLines,
  planItemChanges,
  type ProrationBehavior,
  prorationLines,
  requireSubscription,
} from './subscriptions';
import { readItemChanges } from './subscriptions-routes';

function previewInvoice(
  emu: Emulator,
  customer: Stripe.Customer,
  sub: Stripe.Subscription | null,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSpec[],
  period: { start: number; end: number },
): Stripe.Invoice {
  const inv = buildInvoice({
    customer,
    subscription: sub,
    billingReason: reason,
    currency: sub?.currency ?? lines[0]?.currency ?? 'usd',
    created: now(emu, customer.id),
    periodStart: period.start,
    periodEnd: period.end,
    collectionMethod: sub?.collection_method ?? 'charge_automatically',
    daysUntilDue: null,
    defaultPaymentMethod: null,
    description: null,
    metadata: {},
    autoAdvance: false,
  });
  inv.id = `upcoming_${inv.id}`;
  for (const l of lines) inv.lines.data.push(buildLine(null, l));
  recomputeTotals(inv, customer.balance ?? 0);
  inv.ending_balance = null;
  inv.webhooks_delivered_at = null;
  inv.payments = { object: 'list', data: [], has_more: false, url: '/v1/invoice_payments' };
  return inv;
}

export function createPreview(req: ApiRequest): Stripe.Invoice {
  const { emu, p } = req;
  const subId = p.str('subscription');
  let sub: Stripe.Subscription | null = subId ? requireSubscription(emu, subId) : null;
  const customerId = p.str('customer') ?? (sub ? customerIdOf(sub) : undefined);
  if (!customerId) throw invalidRequest('Missing required param: customer.', 'customer', 'parameter_missing');
  const customer = requireCustomer(emu, customerId);
  if (!sub) {
    sub =
      emu.store
        .all<Stripe.Subscription>(C.subscription)
        .find(
          (s) => customerIdOf(s) === customer.id && ['active', 'trialing', 'past_due'].includes(s.status),
        ) ?? null;
  }
  const at = now(emu, customer.id);
  const pendingLines = (pending: 'include' | { subscription: string }): LineSpec[] =>
    pendingItems(emu, customer.id, pending).map((ii) => invoiceItemLine(emu, ii));
  if (!sub) {
    const lines = pendingLines('include');
    if (lines.length === 0) {
      throw invalidRequest(
        `No upcoming invoices for customer: ${customer.id}`,
        undefined,
        'invoice_upcoming_none',
      );
    }
    return previewInvoice(emu, customer, null, 'manual', lines, { start: at, end: at });
  }

  const details = p.obj('subscription_details');
  const behavior = (details?.oneOf('proration_behavior', [
    'create_prorations',
    'always_invoice',
    'none',
  ] as const) ?? 'create_prorations') as ProrationBehavior;
  const date = details?.int('proration_date') ?? at;
  const changes = readItemChanges(emu, details?.objArray('items') ?? []);
  const { items, prorations } = planItemChanges(sub, changes, at);
  const prorate = behavior !== 'none' && sub.status !== 'trialing';
  const proration = prorate ? prorationLines(emu, sub, prorations, date) : [];
  const period = subPeriod(sub);
  if (behavior === 'always_invoice' && proration.length > 0) {
    // Invoiced now: its window starts and ends now, as the invoice the update would make.
    return previewInvoice(emu, customer, sub, 'subscription_update', proration, { start: at, end: at });
  }

  // The next renewal with the proposed items (schedule_details: the next phase's items).
  const proposed: Stripe.Subscription = { ...structuredClone(sub), items: { ...sub.items, data: items } };
  const schedule = p.obj('schedule_details');
  const phaseReaders = schedule?.objArray('phases');
  if (phaseReaders && phaseReaders.length > 1) {
    const nextChanges = readItemChanges(emu, phaseReaders[1].objArray('items') ?? []);
    proposed.items.data = planItemChanges(
      { ...proposed, items: { ...proposed.items, data: [] } },
      nextChanges,
      at,
    ).items;
  }
  const cancelAtEnd = details?.bool('cancel_at_period_end') ?? sub.cancel_at_period_end;
  const { interval, count } = recurringOf((proposed.items.data[0] ?? sub.items.data[0]).price);
  const start = sub.status === 'trialing' && sub.trial_end ? sub.trial_end : period.end;
  const next = { start, end: addIntervals(start, interval, count, 1) };
  const lines: LineSpec[] = [
    ...pendingLines({ subscription: sub.id }),
    ...proration,
    ...(cancelAtEnd ? [] : licensedLines(emu, proposed, next)),
    ...(sub.status === 'trialing' ? [] : meteredLines(emu, sub, period)),
  ];
  // The renewal's window looks back over the current period (the trial, while trialing); `next` is on the lines.
  const window = sub.status === 'trialing' ? { start: sub.trial_start ?? sub.created, end: start } : period;
  return previewInvoice(emu, customer, sub, 'subscription_cycle', lines, window);
}
