import type Stripe from 'stripe';
import { Invoice, PaymentMethod } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { connectSocket, subscribe } from '../support/ws-client';

/**
 * The payment webhooks of issue 15 (items 1, 5, 6): `setup_intent.succeeded` (a card set up outside the hosted page,
 * e.g. by a frontend confirming a SetupIntent) and `credit_note.created` (a credit note made in the Dashboard, not by
 * `refundInvoice`), each keeping our rows true and telling the account; the emulator's own deliveries.
 */
describe('setup_intent.succeeded and credit_note.created', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0' }, { webhooks: true });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  /** A customer of `accountId` (linked by its metadata). */
  async function customerOf(accountId: string): Promise<Stripe.Customer> {
    const customer = await stack.stripe.customers.create({
      email: `${accountId}@example.com`,
      metadata: { account_id: accountId },
    });
    await stack.flushWebhooks();
    return customer;
  }

  /** Runs `change` while subscribed to the account's `accountUpdated`; resolves once an update arrived. */
  async function toldWhile(accountId: string, change: () => Promise<void>): Promise<void> {
    const client = connectSocket(stack.url, `Bearer ${await stack.token(accountId)}`);
    const updates = subscribe<{ accountUpdated: { id: string } }>(
      client,
      'subscription { accountUpdated { id } }',
    );
    // The subscription is registered on the server before anything changes.
    await new Promise((done) => setTimeout(done, 200));
    try {
      await change();
      expect((await updates.next(5000)).accountUpdated.id).toBe(accountId);
    } finally {
      updates.close();
      await client.dispose();
    }
  }

  async function eventOf(type: string, objectId: string): Promise<Stripe.Event> {
    const events = await stack.stripe.events.list({ type, limit: 100 });
    const event = events.data.find((candidate) => (candidate.data.object as { id: string }).id === objectId);
    if (!event) throw new Error(`no ${type} event for ${objectId}`);
    return event;
  }

  it('setup_intent.succeeded stores the card a SetupIntent saved (even if payment_method.attached was lost)', async () => {
    const accountId = 'acct_setup_intent';
    const customer = await customerOf(accountId);
    const setup = await stack.stripe.setupIntents.create({
      customer: customer.id,
      payment_method: 'pm_card_mastercard',
      confirm: true,
    });
    expect(setup.status).toBe('succeeded');
    await stack.flushWebhooks();
    const cardId = setup.payment_method as string;
    expect(await em().find(PaymentMethod, { accountId })).toEqual([
      expect.objectContaining({ stripePaymentMethodId: cardId, last4: '4444' }),
    ]);

    // As if the attach event never came: only setup_intent.succeeded is delivered (again, under a new id).
    await em().nativeDelete(PaymentMethod, { accountId });
    const succeeded = await eventOf('setup_intent.succeeded', setup.id);
    await toldWhile(accountId, async () => {
      const delivered = await stack.deliverWebhook({ ...succeeded, id: `${succeeded.id}_again` });
      expect(delivered).toMatchObject({ status: 200, settled: 'processed' });
    });
    expect(await em().find(PaymentMethod, { accountId })).toEqual([
      expect.objectContaining({ stripePaymentMethodId: cardId, last4: '4444' }),
    ]);
  });

  it('a SetupIntent that did not succeed (or has no customer) stores nothing', async () => {
    const accountId = 'acct_setup_intent_none';
    const customer = await customerOf(accountId);
    const pending = await stack.stripe.setupIntents.create({ customer: customer.id });
    expect(pending.status).not.toBe('succeeded');
    const delivered = await stack.deliverWebhook({
      id: `evt_setup_pending_${pending.id}`,
      object: 'event',
      type: 'setup_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: pending },
    } as unknown as { id: string });
    expect(delivered).toMatchObject({ status: 200, settled: 'processed' });
    expect(await em().count(PaymentMethod, { accountId })).toBe(0);
  });

  it('credit_note.created of a Dashboard credit note on an open invoice: the row owes less, the invoice shows the note', async () => {
    const accountId = 'acct_dashboard_credit';
    const customer = await customerOf(accountId);
    const [price] = (await stack.stripe.prices.list({ lookup_keys: ['price_professional_monthly'] })).data;
    // A first invoice left open (the customer has not paid yet).
    const subscription = await stack.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price?.id as string }],
      payment_behavior: 'default_incomplete',
      metadata: { account_id: accountId },
    });
    await stack.flushWebhooks();
    const invoiceId = subscription.latest_invoice as string;
    const before = await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId });
    expect(before).toMatchObject({ status: 'open', amountRefunded: 0 });
    expect(before.amountRemaining).toBeGreaterThan(1000);

    // Support takes $10.00 off in the Dashboard: Stripe sends credit_note.created and invoice.updated (not handled).
    let noteId = '';
    await toldWhile(accountId, async () => {
      noteId = (await stack.stripe.creditNotes.create({ invoice: invoiceId, amount: 1000 })).id;
      await stack.flushWebhooks();
    });
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
      status: 'open',
      amountDue: before.amountDue - 1000,
      amountRemaining: before.amountRemaining - 1000,
    });
    const gql = await stack.as(accountId);
    const details = await gql<{
      viewer: { invoice: { amountRemaining: number; creditNotes: Array<{ id: string; amount: number }> } };
    }>(`{ viewer { invoice(id: "${invoiceId}") { amountRemaining creditNotes { id amount } } } }`);
    expect(details.errors).toBeUndefined();
    expect(details.data?.viewer.invoice).toEqual({
      amountRemaining: before.amountRemaining - 1000,
      creditNotes: [{ id: noteId, amount: 1000 }],
    });

    // Voided in the Dashboard (credit_note.voided): the invoice owes the whole amount again.
    await toldWhile(accountId, async () => {
      await stack.stripe.creditNotes.voidCreditNote(noteId);
      await stack.flushWebhooks();
    });
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
      status: 'open',
      amountDue: before.amountDue,
      amountRemaining: before.amountRemaining,
    });
  });

  it('credit_note.created of a refund to the card keeps what was refunded on the row (even if charge.refunded was lost)', async () => {
    const accountId = 'acct_dashboard_refund';
    const gql = await stack.as(accountId);
    const created = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(created.errors).toBeUndefined();
    await stack.flushWebhooks();
    const subscription = await stack.stripe.subscriptions.retrieve(
      created.data?.createSubscription.id as string,
    );
    const invoiceId = subscription.latest_invoice as string;
    const note = await stack.stripe.creditNotes.create({
      invoice: invoiceId,
      amount: 700,
      refund_amount: 700,
    });
    await stack.flushWebhooks();
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
      status: 'paid',
      amountRefunded: 700,
    });

    // As if charge.refunded never came: the credit note's event alone brings the refunded amount back.
    await em().nativeUpdate(Invoice, { stripeInvoiceId: invoiceId }, { amountRefunded: 0 });
    const event = await eventOf('credit_note.created', note.id);
    const delivered = await stack.deliverWebhook({ ...event, id: `${event.id}_again` });
    expect(delivered).toMatchObject({ status: 200, settled: 'processed' });
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
      status: 'paid',
      amountRefunded: 700,
    });
  });
});
