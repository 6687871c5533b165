import type Stripe from 'stripe';
import { WebhookEvent } from '../../src/entities';
import { UNLINKED_GIVE_UP_MS } from '../../src/webhooks/inbox/inbox-retry-policy';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import {
  deliveries,
  differencesFromStripe,
  emulatorNow,
  emulatorPost,
  eventsSince,
  inbox,
  inboxProblems,
  setWebhookMode,
} from '../support/webhook-harness';

/**
 * Issue 8, faults: webhooks about a Stripe customer we do not know yet, delivered by the emulator itself (not
 * posted by hand, as test/integration/webhooks.test.ts does). A Checkout made without our metadata emits
 * `customer.subscription.created`, `invoice.*` … before `checkout.session.completed` links the customer: those
 * are answered 200 once stored and fail in the inbox; the commit of the event that links the customer brings them
 * forward, and they are processed then (ADR 0020). A customer
 * that never links is never dropped: its events stay `failed` in the inbox, and after the window
 * (`UNLINKED_GIVE_UP_MS`) the reconciler keeps them as `ignored` with the reason.
 */

jest.setTimeout(60_000);

describe('webhooks for a customer not linked yet', () => {
  let stack: BillingStack;
  let databaseUrl: string;

  beforeAll(async () => {
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0' }, { webhooks: true });
    databaseUrl = stack.database.url;
  });
  afterAll(() => stack?.stop());

  async function starterPrice(): Promise<Stripe.Price> {
    return (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0];
  }

  async function customerEvents(since: number, customerId: string): Promise<Stripe.Event[]> {
    const ofCustomer = (event: Stripe.Event) => {
      const object = event.data.object as { id?: string; customer?: string | { id: string } | null };
      const customer = typeof object.customer === 'string' ? object.customer : object.customer?.id;
      return object.id === customerId || customer === customerId;
    };
    return (await eventsSince(stack.stripe, since)).filter(ofCustomer);
  }

  it('holds the events failed until checkout.session.completed links the customer, then processes every event once', async () => {
    const accountId = 'acct_checkout_without_metadata';
    const since = await emulatorNow(stack.emulator.url);
    await setWebhookMode(stack.emulator.url, {
      reset: true,
      retry_schedule_ms: [300, 600, 1200, 2400, 4800],
    });
    // A Checkout without our metadata on the customer or the subscription (as this service made them before
    // customers carried it): only `client_reference_id` names the account, and only checkout.session.completed
    // carries it. The service recorded the session (only a recorded session is ever linked).
    const session = await stack.stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: (await starterPrice()).id, quantity: 1 }],
      client_reference_id: accountId,
      success_url: 'http://127.0.0.1/success',
      cancel_url: 'http://127.0.0.1/cancel',
    });
    await stack.app.services.checkoutRecords.record(stack.app.orm.em.fork(), {
      stripeSessionId: session.id,
      accountId,
      planKey: 'starter',
      interval: 'month',
      withTrial: false,
    });
    const completed = (await emulatorPost(
      stack.emulator.url,
      `/_emulator/checkout/sessions/${session.id}/complete`,
      { card: '4242424242424242', email: 'late-link@example.com' },
    )) as Stripe.Checkout.Session;
    const customerId = completed.customer as string;
    await stack.flushWebhooks();

    const emitted = await customerEvents(since, customerId);
    const types = emitted.map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['customer.subscription.created', 'invoice.paid']));
    const attempts = await deliveries(stack.emulator.url);
    const early = emitted.find((event) => event.type === 'customer.subscription.created') as Stripe.Event;
    const earlyAttempts = attempts.filter((attempt) => attempt.event === early.id);
    // Answered 200 once stored (ADR 0020): processing, which may fail until the link is there, is behind the
    // answer, so Stripe never has to retry.
    expect(earlyAttempts.map((attempt) => attempt.response_code)).toEqual([200]);
    const answered = new Set(attempts.filter((a) => a.status === 'succeeded').map((a) => a.event));
    expect(emitted.filter((event) => !answered.has(event.id)).map((event) => event.type)).toEqual([]);

    // Each event stored once and processed (or ignored as a type we do not handle); the database equals Stripe.
    const rows = await inbox(databaseUrl);
    expect(
      inboxProblems(rows, emitted).filter((problem) => !problem.includes('stored but not emitted')),
    ).toEqual([]);
    const earlyRow = rows.find((row) => row.stripe_event_id === early.id);
    expect(earlyRow).toMatchObject({ status: 'processed', last_error: null });
    // Tried once, or twice when it came before the link: the link's commit brought it forward.
    expect(earlyRow?.attempts).toBeGreaterThanOrEqual(1);
    expect(earlyRow?.attempts).toBeLessThanOrEqual(2);
    const { problems, compared } = await differencesFromStripe(stack.stripe, databaseUrl);
    expect(problems).toEqual([]);
    expect(compared).toMatchObject({ customers: 1, subscriptions: 1 });
    const [customer] = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute('select account_id from billing_customer where stripe_customer_id = ?', [customerId]);
    expect(customer).toEqual({ account_id: accountId });
  });

  it('keeps the events of a customer that never links as failed, then as ignored with the reason after the window', async () => {
    const since = await emulatorNow(stack.emulator.url);
    await setWebhookMode(stack.emulator.url, { reset: true, retry_schedule_ms: [200, 400, 800] });
    // Made by hand in the Dashboard: nothing names an account, and nothing ever will.
    const stranger = await stack.stripe.customers.create({ email: 'dashboard@example.com' });
    await stack.stripe.subscriptions.create({
      customer: stranger.id,
      items: [{ price: (await starterPrice()).id }],
      trial_period_days: 7,
    });
    await stack.flushWebhooks();
    const emitted = await customerEvents(since, stranger.id);
    const subscriptionCreated = emitted.find(
      (event) => event.type === 'customer.subscription.created',
    ) as Stripe.Event;
    const attempts = (await deliveries(stack.emulator.url)).filter(
      (attempt) => attempt.event === subscriptionCreated.id,
    );
    // Answered once stored; processing failed, and the inbox holds the event for its retries.
    expect(attempts.map((attempt) => attempt.response_code)).toEqual([200]);
    const em = stack.app.orm.em.fork();
    const held = await em.findOneOrFail(WebhookEvent, { stripeEventId: subscriptionCreated.id });
    expect(held).toMatchObject({ status: 'failed' });
    expect(held.attempts).toBeGreaterThanOrEqual(1);
    expect(held.lastError).toMatch(/not linked to an account yet/);

    // The window passes (moved back rather than waited for) and the reconciler retries failed rows.
    await em.nativeUpdate(
      WebhookEvent,
      { stripeEventId: { $in: emitted.map((event) => event.id) } },
      { receivedAt: new Date(Date.now() - UNLINKED_GIVE_UP_MS - 60_000) },
    );
    const reconciler = stack.app.reconciler;
    if (!reconciler) throw new Error('the service has no reconciler');
    const summary = await reconciler.catchUp();
    expect(summary.failed).toBe(0);
    const rows = await stack.app.orm.em
      .fork()
      .find(WebhookEvent, { stripeEventId: { $in: emitted.map((event) => event.id) } });
    expect(rows).toHaveLength(emitted.length);
    const given = rows.find((row) => row.stripeEventId === subscriptionCreated.id);
    expect(given).toMatchObject({ status: 'ignored' });
    expect(given?.lastError).toMatch(/^given up: customer cus_\w+ is not linked to an account yet/);
    expect(rows.filter((row) => row.status === 'failed')).toEqual([]);
  });
});
