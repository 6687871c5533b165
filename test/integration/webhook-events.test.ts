import type Stripe from 'stripe';
import { Invoice, Notification, Subscription, WebhookEvent } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { fakeEvent, postWebhook, setWebhookMode, signEvent } from '../support/webhook-harness';

/**
 * The invoice events handled since issue 12: a payment the bank wants confirmed (3-D Secure), a voided invoice,
 * an uncollectible one. The emulator's own deliveries where it emits the event; a signed event from the harness
 * where it does not (the handler refetches the invoice from the emulator either way).
 */
describe('invoice events', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0' }, { webhooks: true });
    await setWebhookMode(stack.emulator.url, { retry_schedule_ms: [100, 200, 400] });
  });
  afterAll(() => stack.stop());

  const em = () => stack.service.service.orm.em.fork();

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

  async function deliver(type: string, object: object): Promise<{ status: number; outcome: string | null }> {
    return postWebhook(stack.service.url, signEvent(fakeEvent(type, object), stack.webhookSecret as string));
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
});
