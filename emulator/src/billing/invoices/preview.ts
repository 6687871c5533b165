/**
 * `POST /v1/invoices/create_preview` (https://docs.stripe.com/api/invoices/create_preview): the
 * invoice a proposed subscription change would produce, computed with the same functions as the
 * real change, never stored and without events. With `proration_behavior=always_invoice` it is the
 * invoice due now (the prorations); otherwise the next renewal invoice, which includes the
 * prorations the change would leave pending.
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import type { ApiRequest } from '../../core/http';
import { requireCustomer } from '../../resources/common';
import { idOf, now } from '../context';
import { itemsOfPhase, nextPhaseOf } from '../schedules/phase-items';
import { buildInvoice, buildLine, type LineSpec } from './invoice-objects';
import { customerIdOf, invoiceItemLine, pendingItems, recomputeTotals } from './invoices';
import { addIntervals } from '../math';
import { recurringOf } from '../pricing';
import { subscriptionPeriod } from '../subscriptions/subscription-objects';
import { licensedLines, meteredLines } from '../subscriptions/subscription-lines';
import { planItemChanges, prorationLines } from '../subscriptions/update-subscription';
import { type ProrationBehavior, requireSubscription } from '../subscriptions/subscription-state';
import { readItemChanges } from '../subscriptions/subscriptions-routes';
import { COLLECTIONS } from '../../core/collections';
import { discountLines } from '../discounts/amounts';
import { previewDiscounts } from '../discounts/preview-discounts';
import { newSubscriptionPreview } from './preview-new-subscription';
import { applyInvoiceTax, automaticTaxField } from '../tax/invoice-tax';
import { readPreviewTax } from './preview-inputs';
import { refuseOtherCurrency } from '../currency/subscription-currency';

function previewInvoice(
  req: ApiRequest,
  customer: Stripe.Customer,
  subscription: Stripe.Subscription | null,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSpec[],
  period: { start: number; end: number },
): Stripe.Invoice {
  const { emulator } = req;
  const invoice = buildInvoice({
    customer,
    subscription,
    billingReason: reason,
    currency: subscription?.currency ?? lines[0]?.currency ?? 'usd',
    created: now(emulator, customer.id),
    periodStart: period.start,
    periodEnd: period.end,
    collectionMethod: subscription?.collection_method ?? 'charge_automatically',
    daysUntilDue: null,
    defaultPaymentMethod: null,
    description: null,
    metadata: {},
    autoAdvance: false,
  });
  invoice.id = `upcoming_${invoice.id}`;
  for (const l of lines) invoice.lines.data.push(buildLine(null, l));
  const applied = previewDiscounts(emulator, req.input, {
    customer,
    subscription,
    currency: invoice.currency,
    amount: invoice.lines.data.reduce((sum, line) => sum + line.amount, 0),
    at: reason === 'subscription_cycle' ? period.end : invoice.created,
  });
  discountLines(invoice, applied);
  const tax = readPreviewTax(emulator, req.input, customer);
  if (tax.automaticTax !== undefined) invoice.automatic_tax = automaticTaxField(tax.automaticTax);
  applyInvoiceTax(emulator, invoice, tax.subject);
  recomputeTotals(invoice, customer.balance ?? 0);
  invoice.ending_balance = null;
  invoice.webhooks_delivered_at = null;
  invoice.payments = { object: 'list', data: [], has_more: false, url: '/v1/invoice_payments' };
  return invoice;
}

function scheduleOf(req: ApiRequest): Stripe.SubscriptionSchedule | null {
  const scheduleId = req.input.str('schedule');
  if (!scheduleId) return null;
  if (req.input.has('subscription') || req.input.has('subscription_details'))
    throw invalidRequest(
      // The reference: `schedule` "Cannot be used with subscription or subscription_ prefixed fields".
      'You cannot specify both `schedule` and `subscription` or `subscription_details`.',
      'schedule',
    );
  return req.emulator.store.require(COLLECTIONS.schedule, scheduleId, 'subscription schedule');
}

export function createPreview(req: ApiRequest): Stripe.Invoice {
  const { emulator, input } = req;
  // `schedule`: "The identifier of the schedule whose upcoming invoice you'd like to retrieve"
  // (https://docs.stripe.com/api/invoices/create_preview): its subscription's next invoice, as the phases make it.
  const schedule = scheduleOf(req);
  const subscriptionId = schedule ? (idOf(schedule.subscription) ?? undefined) : input.str('subscription');
  let subscription: Stripe.Subscription | null = subscriptionId
    ? requireSubscription(emulator, subscriptionId)
    : null;
  const customerId = input.str('customer') ?? (subscription ? customerIdOf(subscription) : undefined);
  if (!customerId) throw invalidRequest('Missing required param: customer.', 'customer', 'parameter_missing');
  const customer = requireCustomer(emulator, customerId);
  if (!subscription) {
    subscription =
      emulator.store
        .all(COLLECTIONS.subscription)
        .find(
          (s) => customerIdOf(s) === customer.id && ['active', 'trialing', 'past_due'].includes(s.status),
        ) ?? null;
  }
  const at = now(emulator, customer.id);
  const pendingLines = (pending: 'include' | { subscription: string }): LineSpec[] =>
    pendingItems(emulator, customer.id, pending).map((invoiceItem) => invoiceItemLine(emulator, invoiceItem));
  const proposedItems = input.obj('subscription_details');
  if (!subscription && proposedItems?.has('items')) {
    const draft = newSubscriptionPreview(emulator, customer, proposedItems, at, input.str('currency'));
    const lines = [...pendingLines('include'), ...draft.lines];
    const invoice = previewInvoice(req, customer, draft.subscription, 'subscription_create', lines, {
      start: at,
      end: at,
    });
    // No subscription exists yet for the invoice to belong to.
    invoice.parent = null;
    return invoice;
  }
  if (!subscription) {
    const lines = pendingLines('include');
    if (lines.length === 0) {
      throw invalidRequest(
        `No upcoming invoices for customer: ${customer.id}`,
        undefined,
        'invoice_upcoming_none',
      );
    }
    return previewInvoice(req, customer, null, 'manual', lines, { start: at, end: at });
  }

  const details = input.obj('subscription_details');
  const behavior = (details?.oneOf('proration_behavior', [
    'create_prorations',
    'always_invoice',
    'none',
  ] as const) ?? 'create_prorations') as ProrationBehavior;
  const date = details?.int('proration_date') ?? at;
  const changes = refuseOtherCurrency(
    readItemChanges(emulator, details?.objArray('items') ?? []),
    subscription.currency,
    'subscription_details[items]',
  );
  const { items, prorations } = planItemChanges(subscription, changes, at);
  const prorate = behavior !== 'none' && subscription.status !== 'trialing';
  const proration = prorate ? prorationLines(emulator, subscription, prorations, date) : [];
  const period = subscriptionPeriod(subscription);
  if (behavior === 'always_invoice' && proration.length > 0) {
    // Invoiced now: its window starts and ends now, as the invoice the update would make.
    return previewInvoice(req, customer, subscription, 'subscription_update', proration, {
      start: at,
      end: at,
    });
  }

  // The next renewal with the proposed items (schedule_details: the next phase's items).
  const proposed: Stripe.Subscription = {
    ...structuredClone(subscription),
    items: { ...subscription.items, data: items },
  };
  const phaseReaders = input.obj('schedule_details')?.objArray('phases');
  if (phaseReaders && phaseReaders.length > 1) {
    const nextChanges = readItemChanges(emulator, phaseReaders[1].objArray('items') ?? []);
    proposed.items.data = planItemChanges(
      { ...proposed, items: { ...proposed.items, data: [] } },
      nextChanges,
      at,
    ).items;
  }
  const nextPhase = schedule ? nextPhaseOf(schedule) : null;
  // The phase that starts at the period end is what the renewal at that moment bills (see advancePhase).
  if (nextPhase && nextPhase.start_date === period.end)
    proposed.items.data = itemsOfPhase(emulator, subscription, nextPhase);
  const cancelAtEnd = details?.bool('cancel_at_period_end') ?? subscription.cancel_at_period_end;
  const { interval, count } = recurringOf((proposed.items.data[0] ?? subscription.items.data[0]).price);
  const start =
    subscription.status === 'trialing' && subscription.trial_end ? subscription.trial_end : period.end;
  const next = { start, end: addIntervals(start, interval, count, 1) };
  const lines: LineSpec[] = [
    ...pendingLines({ subscription: subscription.id }),
    ...proration,
    ...(cancelAtEnd ? [] : licensedLines(emulator, proposed, next)),
    ...(subscription.status === 'trialing' ? [] : meteredLines(emulator, subscription, period)),
  ];
  // The renewal's window looks back over the current period (the trial, while trialing); `next` is on the lines.
  const window =
    subscription.status === 'trialing'
      ? { start: subscription.trial_start ?? subscription.created, end: start }
      : period;
  return previewInvoice(req, customer, subscription, 'subscription_cycle', lines, window);
}
