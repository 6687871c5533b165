/**
 * Pending updates (`payment_behavior=pending_if_incomplete`), as Stripe documents them
 * (https://docs.stripe.com/billing/subscriptions/pending-updates, …/pending-updates-reference): an update whose
 * invoice is not paid at once keeps the subscription as it was and carries the change in `pending_update` until
 * the invoice is paid (`customer.subscription.pending_update_applied`) or `expires_at` passes (the invoice voided,
 * `customer.subscription.pending_update_expired`); only the parameters a pending update supports are accepted.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, type Fixture, fixture, T0 } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

/** When the upgrade is made: 10 days into January, 21 of its 31 days left to prorate. */
const UPGRADED_AT = T0 + 10 * DAY;
const JANUARY = 31 * DAY;
const LEFT = JANUARY - 10 * DAY;

async function intentOfInvoice(invoiceId: string): Promise<Stripe.PaymentIntent> {
  const invoice = await stripe.invoices.retrieve(invoiceId, { expand: ['payments'] });
  const paymentIntent = invoice.payments?.data[0]?.payment.payment_intent;
  return stripe.paymentIntents.retrieve(
    typeof paymentIntent === 'string' ? paymentIntent : String(paymentIntent?.id),
  );
}

async function authenticate(invoiceId: string, outcome: 'succeed' | 'fail'): Promise<void> {
  const intent = await intentOfInvoice(invoiceId);
  await emulator.control(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome });
}

/** A customer on $10.00 basic since T0 (approved if the card asks), at UPGRADED_AT. */
async function subscribed(card: string): Promise<{ f: Fixture; subscription: Stripe.Subscription }> {
  const f = await fixture(emulator, card);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    payment_behavior: 'allow_incomplete',
  });
  if (subscription.status === 'incomplete')
    await authenticate(String(subscription.latest_invoice), 'succeed');
  await advanceClock(stripe, f.clock.id, UPGRADED_AT);
  return { f, subscription: await stripe.subscriptions.retrieve(subscription.id) };
}

function upgrade(f: Fixture, subscription: Stripe.Subscription) {
  return stripe.subscriptions.update(subscription.id, {
    items: [{ id: subscription.items.data[0].id, price: f.pro.id }],
    proration_behavior: 'always_invoice',
    payment_behavior: 'pending_if_incomplete',
    metadata: { plan_key: 'pro' },
    expand: ['latest_invoice'],
  });
}

async function typesFor(subscriptionId: string): Promise<string[]> {
  const events: Stripe.Event[] = [];
  for await (const event of stripe.events.list({ limit: 100 })) events.push(event);
  return events
    .reverse()
    .filter((event) => (event.data.object as { id?: string }).id === subscriptionId)
    .map((event) => event.type);
}

/** The upgrade's prorations, each rounded once to the cent: $30.00 for the 21 days left, less $10.00's. */
const PRORATED = Math.round((3000 * LEFT) / JANUARY) - Math.round((1000 * LEFT) / JANUARY);

it('an upgrade whose card asks is pending: the items kept, its invoice open; approved, the update applies', async () => {
  const { f, subscription } = await subscribed('pm_card_authenticationRequired');
  const pending = await upgrade(f, subscription);
  expect(pending).toMatchObject({ status: 'active', metadata: {} });
  expect(pending.items.data.map((item) => item.price.id)).toEqual([f.basic.id]);
  expect(pending.pending_update).toMatchObject({
    expires_at: UPGRADED_AT + 23 * 3600,
    billing_cycle_anchor: null,
    metadata: { plan_key: 'pro' },
    trial_end: null,
  });
  expect(pending.pending_update?.subscription_items?.map((item) => [item.id, item.price.id])).toEqual([
    [subscription.items.data[0].id, f.pro.id],
  ]);
  const invoice = pending.latest_invoice as Stripe.Invoice;
  expect(invoice).toMatchObject({
    status: 'open',
    billing_reason: 'subscription_update',
    amount_due: PRORATED,
  });
  expect(PRORATED).toBe(1355);
  expect((await intentOfInvoice(invoice.id as string)).status).toBe('requires_action');
  const updated = (await stripe.events.list({ type: 'customer.subscription.updated', limit: 1 })).data[0];
  expect(updated.data.previous_attributes).toMatchObject({ pending_update: null });

  await authenticate(invoice.id as string, 'succeed');
  const applied = await stripe.subscriptions.retrieve(subscription.id);
  expect(applied.items.data.map((item) => item.price.id)).toEqual([f.pro.id]);
  expect(applied).toMatchObject({ status: 'active', pending_update: null, metadata: { plan_key: 'pro' } });
  expect((await stripe.invoices.retrieve(invoice.id as string)).status).toBe('paid');
  expect((await typesFor(subscription.id)).slice(-3)).toEqual([
    'customer.subscription.updated',
    'customer.subscription.updated',
    'customer.subscription.pending_update_applied',
  ]);
  const charges = await stripe.charges.list({ customer: f.customer.id });
  expect(charges.data.map((charge) => charge.amount)).toEqual([PRORATED, 1000]);
});

it('a failed challenge keeps it pending, not past due; at expires_at the invoice is voided and the update discarded', async () => {
  const { f, subscription } = await subscribed('pm_card_authenticationRequired');
  const pending = await upgrade(f, subscription);
  const invoiceId = (pending.latest_invoice as Stripe.Invoice).id as string;
  await authenticate(invoiceId, 'fail');
  const failed = await stripe.subscriptions.retrieve(subscription.id);
  expect(failed.status).toBe('active');
  expect(failed.pending_update?.expires_at).toBe(UPGRADED_AT + 23 * 3600);
  expect(await stripe.invoices.retrieve(invoiceId)).toMatchObject({
    status: 'open',
    next_payment_attempt: null,
  });

  await advanceClock(stripe, f.clock.id, UPGRADED_AT + 23 * 3600 - 1);
  expect((await stripe.subscriptions.retrieve(subscription.id)).pending_update).not.toBeNull();
  await advanceClock(stripe, f.clock.id, UPGRADED_AT + 23 * 3600);
  const expired = await stripe.subscriptions.retrieve(subscription.id);
  expect(expired).toMatchObject({ status: 'active', pending_update: null, metadata: {} });
  expect(expired.items.data.map((item) => item.price.id)).toEqual([f.basic.id]);
  expect((await stripe.invoices.retrieve(invoiceId)).status).toBe('void');
  expect((await typesFor(subscription.id)).slice(-2)).toEqual([
    'customer.subscription.updated',
    'customer.subscription.pending_update_expired',
  ]);
});

it('a card that pays applies the update at once, with no pending update', async () => {
  const { f, subscription } = await subscribed('pm_card_visa');
  const upgraded = await upgrade(f, subscription);
  expect(upgraded.pending_update).toBeNull();
  expect(upgraded.items.data.map((item) => item.price.id)).toEqual([f.pro.id]);
  expect(upgraded.latest_invoice).toMatchObject({ status: 'paid', amount_paid: PRORATED });
  expect(await typesFor(subscription.id)).not.toContain('customer.subscription.pending_update_applied');
});

it('a subscription item added with pending_if_incomplete waits too, and is answered as it will be', async () => {
  const { f, subscription } = await subscribed('pm_card_authenticationRequired');
  const added = await stripe.subscriptionItems.create({
    subscription: subscription.id,
    price: f.pro.id,
    proration_behavior: 'always_invoice',
    payment_behavior: 'pending_if_incomplete',
  });
  expect(added.price.id).toBe(f.pro.id);
  const pending = await stripe.subscriptions.retrieve(subscription.id);
  expect(pending.items.data.map((item) => item.price.id)).toEqual([f.basic.id]);
  expect(pending.pending_update?.subscription_items?.map((item) => item.id)).toContain(added.id);
  await expect(
    stripe.subscriptionItems.create({
      subscription: subscription.id,
      price: f.pro.id,
      payment_behavior: 'pending_if_incomplete',
      tax_rates: ['txr_1'],
    }),
  ).rejects.toMatchObject({
    statusCode: 400,
    param: 'tax_rates',
    message: expect.stringContaining('pending_if_incomplete'),
  });
});

it('refuses the parameters a pending update does not take', async () => {
  const { f, subscription } = await subscribed('pm_card_visa');
  await expect(
    stripe.subscriptions.update(subscription.id, {
      payment_behavior: 'pending_if_incomplete',
      description: 'upgrade',
    }),
  ).rejects.toMatchObject({
    statusCode: 400,
    type: 'StripeInvalidRequestError',
    param: 'description',
    message: expect.stringContaining('pending_if_incomplete'),
  });
  await expect(
    stripe.subscriptions.update(subscription.id, {
      payment_behavior: 'pending_if_incomplete',
      items: [{ id: subscription.items.data[0].id, price: f.pro.id, tax_rates: ['txr_1'] }],
    }),
  ).rejects.toMatchObject({ statusCode: 400, param: 'items[0][tax_rates]' });
  const unchanged = await stripe.subscriptions.retrieve(subscription.id);
  expect(unchanged.items.data.map((item) => item.price.id)).toEqual([f.basic.id]);
});
