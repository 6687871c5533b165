import type Stripe from 'stripe';
import { Dispute, Entitlement, Invoice, Notification, Subscription, WebhookEvent } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { connectSocket, subscribe } from '../support/ws-client';
import { fakeEvent, setWebhookMode } from '../support/webhook-harness';

const ADMINS = ['ops@coditect.ai', 'cfo@coditect.ai'];

/**
 * The events handled since issue 12: a payment the bank wants confirmed (3-D Secure), a voided invoice, an
 * uncollectible one, a refund, a dispute. The emulator's own deliveries where it emits the event; a signed event
 * from the harness where it does not (the handler refetches its object from the emulator either way).
 */
describe('invoice, refund and dispute events', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack(
      { RECONCILE_INTERVAL_MS: '0', BILLING_ADMIN_EMAILS: ADMINS.join(',') },
      { webhooks: true },
    );
    await setWebhookMode(stack.emulator.url, { retry_schedule_ms: [100, 200, 400] });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  async function price(lookupKey: string): Promise<Stripe.Price> {
    return (await stack.stripe.prices.list({ lookup_keys: [lookupKey] })).data[0];
  }

  /** A customer of `accountId` (linked by its metadata), with a card that pays. */
  async function customerOf(accountId: string): Promise<Stripe.Customer> {
    return stack.stripe.customers.create({
      email: `${accountId}@example.com`,
      metadata: { account_id: accountId },
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
    });
  }

  /** Delivers a signed event and waits until it is processed; the HTTP status and the event's inbox status. */
  async function deliver(type: string, object: object): Promise<{ status: number; outcome: string | null }> {
    const { status, settled } = await stack.deliverWebhook(fakeEvent(type, object));
    return { status, outcome: settled };
  }

  it('invoice.payment_action_required: stores the invoice and its subscription, and mails the link to confirm, once', async () => {
    const accountId = 'acct_payment_action';
    const customer = await customerOf(accountId);
    // A first payment that waits for the customer (what a 3-D Secure card leaves behind): incomplete, invoice open.
    const subscription = await stack.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await price('price_professional_monthly')).id }],
      payment_behavior: 'default_incomplete',
      metadata: { account_id: accountId },
    });
    await stack.flushWebhooks();
    const invoice = await stack.stripe.invoices.retrieve(subscription.latest_invoice as string);
    expect(invoice.status).toBe('open');

    expect(await deliver('invoice.payment_action_required', invoice)).toEqual({
      status: 200,
      outcome: 'processed',
    });
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoice.id })).toMatchObject({
      accountId,
      status: 'open',
      amountDue: 4900,
    });
    expect(await em().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id })).toMatchObject({
      accountId,
      status: 'incomplete',
    });
    const mails = await em().find(Notification, { accountId, kind: 'payment_action_required' });
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({
      recipient: `${accountId}@example.com`,
      dedupeKey: `payment_action_required:${invoice.id}`,
    });
    expect(mails[0].data).toMatchObject({
      invoiceId: invoice.id,
      amountDue: 4900,
      currency: 'USD',
      hostedInvoiceUrl: invoice.hosted_invoice_url,
      planName: 'Professional',
    });

    // Stripe sends it again for the same invoice (another attempt): processed, still one mail.
    expect((await deliver('invoice.payment_action_required', invoice)).outcome).toBe('processed');
    expect(await em().count(Notification, { accountId, kind: 'payment_action_required' })).toBe(1);
  });

  it('invoice.voided: the invoice is stored void and its subscription refreshed', async () => {
    const accountId = 'acct_invoice_voided';
    const customer = await customerOf(accountId);
    const subscription = await stack.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await price('price_starter_monthly')).id }],
      payment_behavior: 'default_incomplete',
      metadata: { account_id: accountId },
    });
    await stack.flushWebhooks();
    const invoiceId = subscription.latest_invoice as string;
    expect((await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).status).toBe('open');

    await stack.stripe.invoices.voidInvoice(invoiceId);
    await stack.flushWebhooks();
    const [voided] = await em().find(WebhookEvent, { type: 'invoice.voided', objectId: invoiceId });
    expect(voided).toMatchObject({ status: 'processed' });
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
      status: 'void',
      amountRemaining: 0,
    });
    const inStripe = await stack.stripe.subscriptions.retrieve(subscription.id);
    expect((await em().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id })).status).toBe(
      inStripe.status,
    );
  });

  it('invoice.marked_uncollectible: the invoice is stored uncollectible', async () => {
    const accountId = 'acct_invoice_uncollectible';
    const customer = await customerOf(accountId);
    await stack.stripe.invoiceItems.create({ customer: customer.id, amount: 2500, currency: 'usd' });
    const draft = await stack.stripe.invoices.create({
      customer: customer.id,
      pending_invoice_items_behavior: 'include',
      metadata: { account_id: accountId },
    });
    const invoice = await stack.stripe.invoices.finalizeInvoice(draft.id as string);
    await stack.flushWebhooks();
    expect((await em().findOneOrFail(Invoice, { stripeInvoiceId: invoice.id })).status).toBe('open');

    await stack.stripe.invoices.markUncollectible(invoice.id as string);
    await stack.flushWebhooks();
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoice.id })).toMatchObject({
      accountId,
      status: 'uncollectible',
      amountDue: 2500,
      amountPaid: 0,
    });
  });

  async function paymentIntentOf(invoiceId: string): Promise<string> {
    const [payment] = (await stack.stripe.invoicePayments.list({ invoice: invoiceId })).data;
    return payment.payment.payment_intent as string;
  }

  async function disputesCounted(outcome: string): Promise<number> {
    const body = await (await fetch(`${stack.url}/metrics`)).text();
    const line = body
      .split('\n')
      .find((candidate) => candidate.startsWith(`billing_disputes_total{outcome="${outcome}"}`));
    return Number(line?.split(' ').at(-1) ?? Number.NaN);
  }

  it('charge.refunded: the invoice keeps what was refunded (and stays paid), shown by GraphQL, and the account is told', async () => {
    const accountId = 'acct_refunded';
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
    const paymentIntent = await paymentIntentOf(invoiceId);

    const client = connectSocket(stack.url, `Bearer ${await stack.token(accountId)}`);
    const updates = subscribe<{ accountUpdated: { id: string } }>(
      client,
      'subscription { accountUpdated { id } }',
    );
    await new Promise((done) => setTimeout(done, 200));
    try {
      // A partial refund (support gave $5.00 back), then the rest.
      await stack.stripe.refunds.create({ payment_intent: paymentIntent, amount: 500 });
      await stack.flushWebhooks();
      expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
        status: 'paid',
        amountPaid: 1900,
        amountRefunded: 500,
      });
      expect((await updates.next(5000)).accountUpdated.id).toBe(accountId);

      await stack.stripe.refunds.create({ payment_intent: paymentIntent });
      await stack.flushWebhooks();
      const viewer = await gql<{ viewer: { invoices: { nodes: Array<Record<string, unknown>> } } }>(
        '{ viewer { invoices { nodes { id status amountPaid amountRefunded } } } }',
      );
      expect(viewer.data?.viewer.invoices.nodes).toContainEqual({
        id: invoiceId,
        status: 'paid',
        amountPaid: 1900,
        amountRefunded: 1900,
      });
    } finally {
      updates.close();
      await client.dispose();
    }
    // A refund takes money back, not the plan.
    expect((await em().findOneOrFail(Subscription, { accountId })).status).toBe('active');
  });

  it('charge.dispute.created and .closed: recorded, the admins told (each once), counted; the subscription is kept', async () => {
    const accountId = 'acct_disputed';
    const openedBefore = await disputesCounted('opened');
    const lostBefore = await disputesCounted('lost');
    const gql = await stack.as(accountId);
    // Stripe's test card whose charge succeeds and is then disputed as fraudulent.
    const created = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "professional", paymentMethodId: "pm_card_createDispute" }) { id } }',
    );
    expect(created.errors).toBeUndefined();
    await stack.flushWebhooks();
    const subscription = await stack.stripe.subscriptions.retrieve(
      created.data?.createSubscription.id as string,
    );
    const invoiceId = subscription.latest_invoice as string;
    const [stripeDispute] = (
      await stack.stripe.disputes.list({ payment_intent: await paymentIntentOf(invoiceId) })
    ).data;
    expect(stripeDispute.status).toBe('needs_response');

    const recorded = await em().findOneOrFail(Dispute, { stripeDisputeId: stripeDispute.id });
    expect(recorded).toMatchObject({
      accountId,
      stripeChargeId: stripeDispute.charge,
      stripeInvoiceId: invoiceId,
      amount: 4900,
      currency: 'usd',
      reason: 'fraudulent',
      status: 'needs_response',
      closedAt: null,
    });
    expect(recorded.evidenceDueBy?.getTime()).toBe((stripeDispute.evidence_details.due_by as number) * 1000);
    const opened = await em().find(Notification, { kind: 'dispute_opened' });
    expect(opened.map((mail) => mail.recipient).sort()).toEqual([...ADMINS].sort());
    expect(opened[0]).toMatchObject({ accountId });
    expect(opened[0].data).toMatchObject({ disputeId: stripeDispute.id, amount: 4900, reason: 'fraudulent' });
    expect(await disputesCounted('opened')).toBe(openedBefore + 1);
    // The subscription and the plan stay as they were.
    expect((await em().findOneOrFail(Subscription, { accountId })).status).toBe('active');
    const entitlements = await em().find(Entitlement, { accountId });
    expect(entitlements.find((row) => row.featureKey === 'team_collaboration')?.enabled).toBe(true);

    // The event again (a redelivery): no second mail, no second count.
    expect((await deliver('charge.dispute.created', stripeDispute)).outcome).toBe('processed');
    expect(await em().count(Notification, { kind: 'dispute_opened' })).toBe(2);
    expect(await disputesCounted('opened')).toBe(openedBefore + 1);

    // The dispute is accepted (closed): lost.
    await stack.stripe.disputes.close(stripeDispute.id);
    await stack.flushWebhooks();
    const closed = await em().findOneOrFail(Dispute, { stripeDisputeId: stripeDispute.id });
    expect(closed.status).toBe('lost');
    expect(closed.closedAt).toBeInstanceOf(Date);
    const closedMails = await em().find(Notification, { kind: 'dispute_closed' });
    expect(closedMails.map((mail) => mail.recipient).sort()).toEqual([...ADMINS].sort());
    expect(closedMails[0].data).toMatchObject({ disputeId: stripeDispute.id, status: 'lost' });
    expect(await disputesCounted('lost')).toBe(lostBefore + 1);
    expect((await em().findOneOrFail(Subscription, { accountId })).status).toBe('active');
  });
});
