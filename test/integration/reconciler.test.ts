import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Client } from 'pg';
import type Stripe from 'stripe';
import {
  BillingCustomer,
  Entitlement,
  PaymentMethod,
  Subscription,
  SyncCursor,
  WebhookEvent,
} from '../../src/entities';
import { Topic } from '../../src/pubsub/topics';
import { createWebhookProcessor } from '../../src/app/webhook-pipeline';
import { silentLogger } from '../../src/logging/logger';
import { EVENTS_CURSOR, type Reconciler } from '../../src/webhooks/reconciler/reconciler';
import { RECONCILED_EVENT_TYPES } from '../../src/webhooks/handlers';
import { eventTypePasses } from '../../src/webhooks/reconciler/event-type-passes';
import { STUCK_AFTER_MS } from '../../src/webhooks/inbox/inbox-retry-policy';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { createCustomer, createSubscription } from '../support/factories';
import { TEST_JWT_SECRET, stripeServicesOf } from '../support/service';
import { waitUntil } from '../support/wait';
import { type ChildResult, outputOf } from '../support/child-output';

/**
 * Reconciliation (issue 5): with no webhook endpoint registered in the emulator — exactly "the service was
 * down longer than Stripe retries" — Stripe's events reach us only by listing them.
 */

const ALLOWED = 'http://localhost:3000';
const ROOT = resolve(__dirname, '../..');
const DAY_MS = 86_400_000;

describe('Reconciler', () => {
  let stack: BillingStack;
  let reconciler: Reconciler;

  beforeAll(async () => {
    // The periodic job is off: each test runs exactly the step it checks. No webhook workers either: the queue's
    // poll would otherwise race the reconciler for the stuck and failed rows these tests plant (ADR 0020).
    stack = await startBillingStack({
      BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED,
      RECONCILE_INTERVAL_MS: '0',
      WEBHOOK_WORKERS: '0',
    });
    const running = stack.app.reconciler;
    if (!running) throw new Error('the service was started with Stripe but has no reconciler');
    reconciler = running;
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  /** The `created` second of the last event the walk got past. */
  async function cursor(): Promise<number | null> {
    return (await cursorRow())?.created ?? null;
  }

  async function cursorRow(): Promise<{ created: number; eventId: string } | null> {
    const row = await em().findOne(SyncCursor, { name: EVENTS_CURSOR });
    if (!row) return null;
    const [created, eventId] = row.value.split(' ');
    return { created: Number(created), eventId: eventId as string };
  }

  /** Stripe's newest event of the first listing's types: where a walk that reached the end leaves its cursor. */
  async function newestHandledEvent(): Promise<Stripe.Event> {
    const [first] = eventTypePasses(RECONCILED_EVENT_TYPES);
    const [newest] = (await stack.stripe.events.list({ limit: 1, types: [...(first?.types ?? [])] })).data;
    if (!newest) throw new Error('Stripe has no event of a handled type');
    return newest;
  }

  async function completeCheckout(accountId: string, planKey: string): Promise<void> {
    const gql = await stack.as(accountId);
    const created = await gql<{ createCheckoutSession: { id: string } }>(
      `mutation { createCheckoutSession(input: { planKey: "${planKey}", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
    );
    const sessionId = created.data?.createCheckoutSession.id;
    if (!sessionId) throw new Error(`checkout session not created: ${JSON.stringify(created.errors)}`);
    const paid = await fetch(`${stack.emulator.url}/_emulator/checkout/sessions/${sessionId}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ card: '4242424242424242' }),
    });
    expect(paid.status).toBe(200);
  }

  it('brings in a checkout the service never heard of, and moves the cursor', async () => {
    await completeCheckout('acct_missed', 'professional');
    // Nothing was delivered: our database does not know about the subscription.
    expect(await em().count(Subscription, { accountId: 'acct_missed' })).toBe(0);
    expect(await em().count(WebhookEvent, {})).toBe(0);
    expect(await cursor()).toBeNull();

    const summary = await reconciler.catchUp();
    expect(summary.failures).toEqual([]);
    expect(summary.processed).toBeGreaterThan(0);
    expect(summary.seen).toBe(summary.processed + summary.duplicates + summary.ignored);

    const subscription = await em().findOneOrFail(Subscription, { accountId: 'acct_missed' });
    expect(subscription).toMatchObject({ status: 'active', planKey: 'professional' });
    const entitlements = await em().find(Entitlement, { accountId: 'acct_missed' });
    expect(entitlements.find((row) => row.featureKey === 'team_collaboration')?.enabled).toBe(true);
    expect(entitlements.find((row) => row.featureKey === 'ai_requests')?.limit).toBe(10_000);
    expect(await em().count(PaymentMethod, { accountId: 'acct_missed' })).toBe(1);

    const stored = await em().find(WebhookEvent, {});
    expect(stored.length).toBe(summary.seen);
    expect(new Set(stored.map((row) => row.source))).toEqual(new Set(['reconciler']));
    expect(stored.map((row) => row.status).filter((status) => status !== 'processed')).toEqual([]);
    // The cursor holds the newest handled event: its id, and its second.
    const newest = await newestHandledEvent();
    expect(await cursorRow()).toEqual({ created: newest.created, eventId: newest.id });
    expect(summary.backlog).toBe(false);
    expect(summary.cursors[0]).toEqual({ name: EVENTS_CURSOR, created: newest.created, eventId: newest.id });
  });

  it('finds nothing new the second time: it lists only the events after its cursor', async () => {
    const before = await cursorRow();
    const inbox = await em().count(WebhookEvent, {});
    const summary = await reconciler.catchUp();
    expect(summary).toMatchObject({
      seen: 0,
      processed: 0,
      duplicates: 0,
      failed: 0,
      ignored: 0,
      retried: 0,
    });
    expect(await cursorRow()).toEqual(before);
    expect(await em().count(WebhookEvent, {})).toBe(inbox);
  });

  it('passes an event that keeps failing once the inbox holds it; the inbox retries it after its back-off', async () => {
    // A customer no account is linked to yet: its subscription's events cannot be applied.
    const customer = await stack.stripe.customers.create({ email: 'unlinked@x.io' });
    const starter = (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0];
    const subscription = await stack.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: starter.id }],
      trial_period_days: 14,
    });
    const created = (
      await stack.stripe.events.list({ type: 'customer.subscription.created', limit: 5 })
    ).data.find((event) => (event.data.object as Stripe.Subscription).id === subscription.id);
    if (!created) throw new Error('the emulator made no customer.subscription.created event');

    // An event after the failing ones: it must not wait for them.
    const later = await stack.stripe.customers.create({
      email: 'after-the-failure@x.io',
      metadata: { account_id: 'acct_after_failure' },
    });

    const first = await reconciler.catchUp();
    expect(first.failures).toContainEqual({
      eventId: created.id,
      type: 'customer.subscription.created',
      error: expect.stringMatching(/not linked to an account yet/),
      dead: false,
    });
    expect(await em().findOne(BillingCustomer, { stripeCustomerId: later.id })).toMatchObject({
      accountId: 'acct_after_failure',
    });
    // The cursor got past the failed event, to Stripe's newest: no run lists it again.
    const newest = await newestHandledEvent();
    expect(await cursorRow()).toEqual({ created: newest.created, eventId: newest.id });
    const failedRow = await em().findOneOrFail(WebhookEvent, { stripeEventId: created.id });
    // Tried when listed and once more at the end of the run (a later event might have linked it).
    expect(failedRow).toMatchObject({ status: 'failed', source: 'reconciler', attempts: 2 });
    // Its next try waits for the back-off after the second failure (4 minutes).
    expect(failedRow.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() + 3 * 60_000);

    // Nothing new, nothing due: the failing event is neither listed nor retried again.
    const second = await reconciler.catchUp();
    expect(second).toMatchObject({ seen: 0, failed: 0, retried: 0 });
    expect((await em().findOneOrFail(WebhookEvent, { stripeEventId: created.id })).attempts).toBe(2);

    // Stripe now names the account: the run brings in that change, whose commit brings the failed event of the
    // same customer forward (ADR 0020); the webhook queue retries it at once, without waiting for its back-off.
    await stack.stripe.customers.update(customer.id, { metadata: { account_id: 'acct_linked_late' } });
    const third = await reconciler.catchUp();
    expect(third.seen).toBe(1);
    await stack.drainWebhooks();
    expect(await em().findOneOrFail(WebhookEvent, { stripeEventId: created.id })).toMatchObject({
      status: 'processed',
      attempts: 3,
      lastError: null,
      nextAttemptAt: null,
    });
    expect(await em().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id })).toMatchObject({
      accountId: 'acct_linked_late',
      status: 'trialing',
      planKey: 'starter',
    });
    expect(await em().count(WebhookEvent, { status: 'failed' })).toBe(0);
  });

  it('retries inbox rows left failed or stuck by a crash, also ones an older version wrote', async () => {
    const account = await em().findOneOrFail(BillingCustomer, { accountId: 'acct_missed' });
    await stack.stripe.customers.update(account.stripeCustomerId as string, { name: 'Stuck Event Ltd' });
    const update = (await stack.stripe.events.list({ type: 'customer.updated', limit: 1 })).data[0];
    // Stored by deliveries that crashed before processing, two minutes ago — and older than the cursor.
    const old = new Date(Date.now() - 120_000);
    const stuckRow = (id: string, nextAttemptAt: Date | null) => {
      const stuck = { ...update, id, created: 1 };
      return em().insert(WebhookEvent, {
        id: randomUUID(),
        stripeEventId: stuck.id,
        type: stuck.type,
        payload: stuck as unknown as Record<string, unknown>,
        objectId: account.stripeCustomerId,
        status: 'received',
        stripeCreatedAt: new Date(1000),
        receivedAt: old,
        nextAttemptAt,
        createdAt: old,
        updatedAt: old,
      });
    };
    // What the inbox writes on arrival: due for the reconciler a minute later, unless processed by then.
    await stuckRow('evt_stuck_crash', new Date(old.getTime() + STUCK_AFTER_MS));
    // Written by a version from before next_attempt_at (during a rolling deploy, or after a rollback).
    await stuckRow('evt_stuck_older_version', null);

    const summary = await reconciler.catchUp();
    expect(summary.retried).toBe(2);
    for (const stripeEventId of ['evt_stuck_crash', 'evt_stuck_older_version']) {
      expect(await em().findOneOrFail(WebhookEvent, { stripeEventId })).toMatchObject({
        status: 'processed',
        attempts: 1,
        nextAttemptAt: null,
      });
    }
    expect((await em().findOneOrFail(BillingCustomer, { accountId: 'acct_missed' })).name).toBe(
      'Stuck Event Ltd',
    );
  });

  it('moves a past-due account to free once its grace period is over, and leaves a fresh one alone', async () => {
    const now = Date.now();
    const setup = em();
    const over = createCustomer(setup, { accountId: 'acct_grace_over' });
    const fresh = createCustomer(setup, { accountId: 'acct_grace_fresh' });
    createSubscription(setup, over, {
      status: 'past_due',
      planKey: 'professional',
      pastDueSince: new Date(now - 8 * DAY_MS),
    });
    createSubscription(setup, fresh, {
      status: 'past_due',
      planKey: 'professional',
      pastDueSince: new Date(now - 3_600_000),
    });
    await setup.flush();
    // Both were provisioned when they fell past due (within their grace period then).
    const provisioner = stack.app.services.provisioner;
    await provisioner.provision(setup, 'acct_grace_over', new Date(now - 8 * DAY_MS));
    await provisioner.provision(setup, 'acct_grace_fresh', new Date(now));
    const collaboration = async (accountId: string) =>
      (await em().findOne(Entitlement, { accountId, featureKey: 'team_collaboration' }))?.enabled ?? false;
    expect(await collaboration('acct_grace_over')).toBe(true);

    const updates = stack.app.pubSub.subscribe(Topic.ACCOUNT_UPDATED, 'acct_grace_over');
    const published = nextWithin(updates[Symbol.asyncIterator](), 5000);

    expect(await reconciler.sweepGracePeriods()).toEqual(['acct_grace_over']);
    expect(await collaboration('acct_grace_over')).toBe(false);
    expect(await collaboration('acct_grace_fresh')).toBe(true);
    expect(await published).toMatchObject({ accountId: 'acct_grace_over', reason: 'grace_period_ended' });
    const viewer = await (await stack.as('acct_grace_over'))<{ viewer: { plan: { key: string } } }>(
      '{ viewer { plan { key } } }',
    );
    expect(viewer.data?.viewer.plan.key).toBe('free');

    // Already free: a second sweep changes nothing and tells no one.
    expect(await reconciler.sweepGracePeriods()).toEqual([]);
  });

  it('repairs an account edited by hand from Stripe', async () => {
    const repair = em();
    await repair.nativeUpdate(
      Subscription,
      { accountId: 'acct_missed' },
      { status: 'canceled', planKey: 'starter', cancelAtPeriodEnd: true },
    );
    await repair.nativeUpdate(
      BillingCustomer,
      { accountId: 'acct_missed' },
      { email: 'vandal@x.io', name: null },
    );
    await repair.nativeDelete(PaymentMethod, { accountId: 'acct_missed' });
    await repair.nativeDelete(Entitlement, { accountId: 'acct_missed' });

    const summary = await reconciler.resyncAccount('acct_missed');
    expect(summary).toMatchObject({
      accountId: 'acct_missed',
      subscriptions: 1,
      paymentMethods: 1,
      planKey: 'professional',
    });
    expect(summary.invoices).toBeGreaterThanOrEqual(1);

    const after = em();
    expect(await after.findOneOrFail(Subscription, { accountId: 'acct_missed' })).toMatchObject({
      status: 'active',
      planKey: 'professional',
      cancelAtPeriodEnd: false,
    });
    const inStripe = await stack.stripe.customers.retrieve(
      (await after.findOneOrFail(BillingCustomer, { accountId: 'acct_missed' })).stripeCustomerId as string,
    );
    expect(await after.findOneOrFail(BillingCustomer, { accountId: 'acct_missed' })).toMatchObject({
      email: (inStripe as Stripe.Customer).email,
      name: 'Stuck Event Ltd',
    });
    expect(await after.find(PaymentMethod, { accountId: 'acct_missed' })).toEqual([
      expect.objectContaining({ last4: '4242', isDefault: true }),
    ]);
    expect(
      (await after.findOneOrFail(Entitlement, { accountId: 'acct_missed', featureKey: 'team_collaboration' }))
        .enabled,
    ).toBe(true);
  });

  it('a resync that read Stripe before a newer webhook committed keeps the newer state', async () => {
    const { orm, services, metrics } = stack.app;
    const stripe = stripeServicesOf(stack.app);
    const account = await em().findOneOrFail(BillingCustomer, { accountId: 'acct_missed' });
    const stripeCustomerId = account.stripeCustomerId as string;
    const { stripeSubscriptionId } = await em().findOneOrFail(Subscription, { accountId: 'acct_missed' });
    expect(await em().findOneOrFail(Subscription, { stripeSubscriptionId })).toMatchObject({
      cancelAtPeriodEnd: false,
    });
    const webhooks = createWebhookProcessor(orm, services, stripe, metrics, silentLogger);
    let newerCardId = '';

    // Stripe changes and its webhooks commit while the resync is between reading Stripe and writing.
    async function newerStateCommits(): Promise<void> {
      const known = new Set((await stack.stripe.events.list({ limit: 100 })).data.map((event) => event.id));
      await stack.stripe.customers.update(stripeCustomerId, { name: 'Newer Than The Resync' });
      await stack.stripe.subscriptions.update(stripeSubscriptionId, { cancel_at_period_end: true });
      newerCardId = (
        await stack.stripe.paymentMethods.attach('pm_card_mastercard', { customer: stripeCustomerId })
      ).id;
      const newer = (await stack.stripe.events.list({ limit: 100 })).data
        .filter((event) => !known.has(event.id) && RECONCILED_EVENT_TYPES.includes(event.type))
        .reverse();
      expect(newer.map((event) => event.type)).toEqual([
        'customer.updated',
        'customer.subscription.updated',
        'payment_method.attached',
      ]);
      for (const event of newer) expect(await webhooks.process(event)).toBe('processed');
    }
    const stripeClient = stripe.stripe;
    const call = stripeClient.call.bind(stripeClient);
    let raced = false;
    const spy = jest.spyOn(stripeClient, 'call').mockImplementation(async (operation, send, intent) => {
      const answer = await call(operation, send, intent);
      // The resync's last read: the cards. Everything it holds now is older than what the webhooks write.
      if (operation === 'customers.listPaymentMethods' && !raced) {
        raced = true;
        await newerStateCommits();
      }
      return answer;
    });
    try {
      const summary = await reconciler.resyncAccount('acct_missed');
      expect(raced).toBe(true);
      // It read the older state (one card) ...
      expect(summary).toMatchObject({ subscriptions: 1, paymentMethods: 1, planKey: 'professional' });
    } finally {
      spy.mockRestore();
    }
    // ... and wrote none of it over the newer state the webhooks committed meanwhile.
    const after = em();
    expect((await after.findOneOrFail(BillingCustomer, { accountId: 'acct_missed' })).name).toBe(
      'Newer Than The Resync',
    );
    expect(await after.findOneOrFail(Subscription, { stripeSubscriptionId })).toMatchObject({
      status: 'active',
      cancelAtPeriodEnd: true,
    });
    const cards = await after.find(PaymentMethod, { accountId: 'acct_missed' });
    expect(cards.map((card) => card.stripePaymentMethodId)).toContain(newerCardId);
    expect(cards).toHaveLength(2);
  });

  it('a resync that read the default card before a newer one became the default keeps the newer default', async () => {
    const { orm, services, metrics } = stack.app;
    const stripe = stripeServicesOf(stack.app);
    const stripeCustomerId = (await em().findOneOrFail(BillingCustomer, { accountId: 'acct_missed' }))
      .stripeCustomerId as string;
    const webhooks = createWebhookProcessor(orm, services, stripe, metrics, silentLogger);
    let newerDefaultId = '';

    // A card is attached and made the default while the resync is between reading Stripe and writing.
    async function newerDefaultCommits(): Promise<void> {
      const known = new Set((await stack.stripe.events.list({ limit: 100 })).data.map((event) => event.id));
      newerDefaultId = (
        await stack.stripe.paymentMethods.attach('pm_card_amex', { customer: stripeCustomerId })
      ).id;
      await stack.stripe.customers.update(stripeCustomerId, {
        invoice_settings: { default_payment_method: newerDefaultId },
      });
      const newer = (await stack.stripe.events.list({ limit: 100 })).data
        .filter((event) => !known.has(event.id) && RECONCILED_EVENT_TYPES.includes(event.type))
        .reverse();
      for (const event of newer) expect(await webhooks.process(event)).toBe('processed');
      const cards = await em().find(PaymentMethod, { accountId: 'acct_missed', isDefault: true });
      expect(cards.map((card) => card.stripePaymentMethodId)).toEqual([newerDefaultId]);
    }
    const stripeClient = stripe.stripe;
    const call = stripeClient.call.bind(stripeClient);
    let raced = false;
    const spy = jest.spyOn(stripeClient, 'call').mockImplementation(async (operation, send, intent) => {
      const answer = await call(operation, send, intent);
      if (operation === 'customers.listPaymentMethods' && !raced) {
        raced = true;
        await newerDefaultCommits();
      }
      return answer;
    });
    try {
      await reconciler.resyncAccount('acct_missed');
      expect(raced).toBe(true);
    } finally {
      spy.mockRestore();
    }
    // The resync read the older default; the newer one, committed meanwhile, stays the only default.
    const defaults = await em().find(PaymentMethod, { accountId: 'acct_missed', isDefault: true });
    expect(defaults.map((card) => card.stripePaymentMethodId)).toEqual([newerDefaultId]);
  });

  it('runs on one instance at a time: a held lock skips the run', async () => {
    const holder = new Client({ connectionString: stack.database.url });
    await holder.connect();
    try {
      await holder.query("select pg_advisory_lock(hashtext('coditect_billing.reconciler'))");
      expect(await reconciler.runScheduled()).toBeNull();
      await holder.query("select pg_advisory_unlock(hashtext('coditect_billing.reconciler'))");
      const run = await reconciler.runScheduled();
      expect(run?.catchUp.failed).toBe(0);
      expect(run?.sweptAccounts).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('npm run stripe:reconcile catches up once and prints its summary; --account resyncs one account', async () => {
    const account = await em().findOneOrFail(BillingCustomer, { accountId: 'acct_missed' });
    await stack.stripe.customers.update(account.stripeCustomerId as string, { name: 'Renamed While Down' });

    const run = await runScript([]);
    expect(run.code).toBe(0);
    expect(run.output).toMatch(
      /stripe:reconcile: seen \d+, processed [1-9]\d*, duplicates \d+, .*failed 0; cursors stripe_events \d+ evt_\w+, stripe_events:2 /,
    );
    expect((await em().findOneOrFail(BillingCustomer, { accountId: 'acct_missed' })).name).toBe(
      'Renamed While Down',
    );

    await em().nativeUpdate(Subscription, { accountId: 'acct_missed' }, { status: 'past_due' });
    const resync = await runScript(['--account', 'acct_missed']);
    expect(resync.code).toBe(0);
    expect(resync.output).toMatch(/resynced acct_missed: 1 subscription\(s\).*plan professional/);
    expect((await em().findOneOrFail(Subscription, { accountId: 'acct_missed' })).status).toBe('active');

    const unknown = await runScript(['--account', 'acct_nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toMatch(/billing customer of acct_nobody was not found/);
  }, 60_000);

  function runScript(args: string[]): Promise<ChildResult> {
    const child = spawn('npm', ['run', '-s', 'stripe:reconcile', '--', ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: stack.database.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        ...stack.emulator.env,
      },
    });
    return outputOf(child, 'stripe:reconcile', 25_000);
  }
});

/** The iterator's next value, or a failed test after `timeoutMs`. */
async function nextWithin<T>(iterator: AsyncIterator<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`nothing published within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done) throw new Error('the subscription ended without a value');
    return result.value;
  } finally {
    clearTimeout(timer);
    void iterator.return?.();
  }
}

describe('the periodic reconciliation job', () => {
  it('runs by itself every RECONCILE_INTERVAL_MS once the service listens, and stops with it', async () => {
    const stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '200' });
    try {
      const customer = await stack.stripe.customers.create({
        email: 'periodic@x.io',
        metadata: { account_id: 'acct_periodic' },
      });
      const em = () => stack.app.orm.em.fork();
      await waitUntil(
        async () => (await em().findOne(BillingCustomer, { stripeCustomerId: customer.id })) !== null,
        'the job brought in the customer no webhook announced',
        10_000,
      );
      const stored = await em().findOneOrFail(WebhookEvent, {
        objectId: customer.id,
        type: 'customer.created',
      });
      expect(stored).toMatchObject({ source: 'reconciler', status: 'processed' });
    } finally {
      await stack.stop();
    }
  });
});
