import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { BillingCustomer, Subscription, SyncCursor, WebhookEvent } from '../../src/entities';
import { createReconciler, createWebhookProcessor } from '../../src/app/webhook-pipeline';
import { silentLogger } from '../../src/logging/logger';
import {
  EVENTS_CURSOR,
  type Reconciler,
  type ReconcilerLimits,
} from '../../src/webhooks/reconciler/reconciler';
import { MAX_AGE_MS, MAX_ATTEMPTS } from '../../src/webhooks/inbox/inbox-retry-policy';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { fakeEvent } from '../support/webhook-harness';
import { stripeServicesOf } from '../support/service';

/**
 * The reconciler never pins, never skips, never lets one row starve the others: it walks Stripe's events forward
 * from its cursor page by page (a backlog larger than one run is continued by the next), passes an event once the
 * inbox holds it, and retries failed inbox rows with back-off until they are dead. Each test uses a reconciler
 * with small limits (3 events a page), so a backlog of a dozen events is already larger than a run.
 */

const METRICS_TOKEN = 'metrics-token-for-the-reconciler-tests-0123';
const MINUTE_MS = 60_000;

describe('the reconciler walks, retries and gives up as it should', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    // No webhook workers: the queue's poll retries due failed rows too (ADR 0020), and these tests are about the
    // reconciler's retries alone; with workers, a row made due by passTime could be taken by the queue first.
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0', WEBHOOK_WORKERS: '0', METRICS_TOKEN });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  /** A reconciler of this service with small limits (the service's own keeps the production ones). */
  function smallReconciler(limits: Partial<ReconcilerLimits>): Reconciler {
    const { orm, services } = stack.app;
    const stripe = stripeServicesOf(stack.app);
    return createReconciler(
      orm,
      createWebhookProcessor(orm, services, stripe, null, silentLogger),
      { ...services, stripe },
      { databaseUrl: stack.database.url, intervalMs: 0, limits: { eventPageSize: 3, ...limits } },
      silentLogger,
    );
  }

  async function cursorValue(): Promise<string | null> {
    return (await em().findOne(SyncCursor, { name: EVENTS_CURSOR }))?.value ?? null;
  }

  async function createdEventOf(customerId: string): Promise<Stripe.Event> {
    const events = await stack.stripe.events.list({ type: 'customer.created', limit: 100 });
    const event = events.data.find(
      (candidate) => (candidate.data.object as Stripe.Customer).id === customerId,
    );
    if (!event) throw new Error(`no customer.created event for ${customerId}`);
    return event;
  }

  async function linkedAccounts(prefix: string): Promise<string[]> {
    const rows = await em().find(BillingCustomer, { accountId: { $like: `${prefix}%` } });
    return rows.map((row) => row.accountId).sort();
  }

  it('walks forward from its cursor: a backlog larger than a run is processed oldest first over several runs, none skipped', async () => {
    // Twelve handled events, all within a second or two: more than the two pages of three a run processes.
    const accounts = Array.from(
      { length: 11 },
      (_, index) => `acct_backlog_${String(index).padStart(2, '0')}`,
    );
    const customers: Stripe.Customer[] = [];
    for (const accountId of accounts.slice(0, 10)) {
      customers.push(
        await stack.stripe.customers.create({
          email: `${accountId}@x.io`,
          metadata: { account_id: accountId },
        }),
      );
    }
    expect(await cursorValue()).toBeNull();
    const reconciler = smallReconciler({ maxEventPages: 2 });

    // First run, no cursor: it finds the oldest event (the last page of ten newest-first is one event), then
    // walks newer pages. The two-page cap stops it after four events, the oldest four.
    const first = await reconciler.catchUp();
    expect(first).toMatchObject({ seen: 4, processed: 4, failed: 0, backlog: true });
    expect(await linkedAccounts('acct_backlog_')).toEqual(accounts.slice(0, 4));
    const fourth = await createdEventOf(customers[3]?.id as string);
    expect(await cursorValue()).toBe(`${fourth.created} ${fourth.id}`);
    expect(first.cursors[0]).toEqual({ name: EVENTS_CURSOR, created: fourth.created, eventId: fourth.id });

    // One more arrives between runs; the next run continues after the fourth, never before it.
    customers.push(
      await stack.stripe.customers.create({
        email: 'late@x.io',
        metadata: { account_id: accounts[10] as string },
      }),
    );
    const second = await reconciler.catchUp();
    expect(second).toMatchObject({ seen: 6, processed: 6, duplicates: 0, backlog: true });
    expect(await linkedAccounts('acct_backlog_')).toEqual(accounts.slice(0, 10));

    const third = await reconciler.catchUp();
    expect(third).toMatchObject({ seen: 1, processed: 1, duplicates: 0, backlog: false });
    const newest = await createdEventOf(customers[10]?.id as string);
    expect(await cursorValue()).toBe(`${newest.created} ${newest.id}`);
    expect(await linkedAccounts('acct_backlog_')).toEqual(accounts);

    // Each event once, in the order Stripe made them, across the three runs.
    const rows = await em().find(
      WebhookEvent,
      { type: 'customer.created', objectId: { $in: customers.map((customer) => customer.id) } },
      { orderBy: { processedAt: 'asc' } },
    );
    expect(rows.map((row) => row.objectId)).toEqual(customers.map((customer) => customer.id));
    expect(rows.every((row) => row.status === 'processed' && row.attempts === 1)).toBe(true);

    const afterTheEnd = await reconciler.catchUp();
    expect(afterTheEnd).toMatchObject({ seen: 0, backlog: false });
  });

  it('finds its place by time when the cursor names no event Stripe still has (or none, from before ids)', async () => {
    const reconciler = smallReconciler({ maxEventPages: 10 });
    const before = await cursorValue();
    const created = Number(before?.split(' ')[0]);

    // Older than Stripe keeps (30 days): `ending_before` answers resource_missing; the walk starts from the second.
    await em().nativeUpdate(SyncCursor, { name: EVENTS_CURSOR }, { value: `${created} evt_gone_for_good` });
    const gone = await stack.stripe.customers.create({
      email: 'gone@x.io',
      metadata: { account_id: 'acct_after_gone' },
    });
    const afterGone = await reconciler.catchUp();
    expect(afterGone).toMatchObject({ processed: 1, failed: 0 });
    // Events of the cursor's second (and the one before) were listed again: the inbox knew them.
    expect(afterGone.duplicates).toBeGreaterThan(0);
    const goneEvent = await createdEventOf(gone.id);
    expect(await cursorValue()).toBe(`${goneEvent.created} ${goneEvent.id}`);

    // A cursor written before ids were kept holds only the second.
    await em().nativeUpdate(SyncCursor, { name: EVENTS_CURSOR }, { value: String(goneEvent.created) });
    const old = await stack.stripe.customers.create({
      email: 'old@x.io',
      metadata: { account_id: 'acct_after_old' },
    });
    const afterOld = await reconciler.catchUp();
    expect(afterOld).toMatchObject({ processed: 1, failed: 0 });
    const oldEvent = await createdEventOf(old.id);
    expect(await cursorValue()).toBe(`${oldEvent.created} ${oldEvent.id}`);
    expect(await linkedAccounts('acct_after_')).toEqual(['acct_after_gone', 'acct_after_old']);
  });

  /** An inbox row as the processor leaves it after `attempts` failed attempts, due for a retry at `dueAt`. */
  async function failedRow(
    event: Stripe.Event,
    {
      attempts,
      dueAt,
      receivedAt = new Date(Date.now() - 10 * MINUTE_MS),
    }: { attempts: number; dueAt: Date; receivedAt?: Date },
  ): Promise<void> {
    await em().insert(WebhookEvent, {
      id: randomUUID(),
      stripeEventId: event.id,
      type: event.type,
      payload: event as unknown as Record<string, unknown>,
      objectId: (event.data.object as { id: string }).id,
      status: 'failed',
      attempts,
      lastError: 'an earlier failure',
      stripeCreatedAt: new Date(event.created * 1000),
      receivedAt,
      nextAttemptAt: dueAt,
      createdAt: receivedAt,
      updatedAt: receivedAt,
    });
  }

  /** A subscription event whose subscription Stripe does not have: its refetch fails every time. */
  function alwaysFailing(id: string, created: number): Stripe.Event {
    const event = fakeEvent(
      'customer.subscription.updated',
      { id: `sub_missing_${id}`, object: 'subscription' },
      id,
    );
    return { ...event, created };
  }

  async function row(stripeEventId: string): Promise<WebhookEvent> {
    return em().findOneOrFail(WebhookEvent, { stripeEventId }, { disableIdentityMap: true });
  }

  /** Time passes: every timestamp of these rows moves `ms` into the past. */
  async function passTime(stripeEventIds: string[], ms: number): Promise<void> {
    await em()
      .getConnection()
      .execute(
        `update webhook_event
            set received_at = received_at - (? * interval '1 millisecond'),
                updated_at = updated_at - (? * interval '1 millisecond'),
                next_attempt_at = next_attempt_at - (? * interval '1 millisecond')
          where stripe_event_id in (${stripeEventIds.map(() => '?').join(', ')})`,
        [ms, ms, ms, ...stripeEventIds],
      );
  }

  it('never lets rows that keep failing fill the retry batch: the rows due longest ago go first, a failed one to the back', async () => {
    const reconciler = smallReconciler({ retryBatchSize: 2 });
    // A customer whose walk is done: its customer.created, failed once (a database blip), is the row to get through.
    const customer = await stack.stripe.customers.create({
      email: 'fair@x.io',
      metadata: { account_id: 'acct_fair' },
    });
    await reconciler.catchUp();
    await em().nativeDelete(BillingCustomer, { accountId: 'acct_fair' });
    const stripeCreated = (await createdEventOf(customer.id)).created;

    // Three rows that always fail, older in Stripe than the good one and due before it.
    const due = Date.now() - 10 * MINUTE_MS;
    const failing = ['evt_fair_failing_1', 'evt_fair_failing_2', 'evt_fair_failing_3'];
    for (const [index, id] of failing.entries())
      await failedRow(alwaysFailing(id, stripeCreated - 100 + index), {
        attempts: 1,
        dueAt: new Date(due + index * 1000),
      });
    const good = fakeEvent('customer.created', customer, 'evt_fair_good');
    await failedRow({ ...good, created: stripeCreated }, { attempts: 1, dueAt: new Date(due + 3000) });

    const first = await reconciler.catchUp();
    expect(first.failures.map((failure) => failure.eventId)).toEqual(failing.slice(0, 2));
    expect(first.retried).toBe(0);
    // Each failure pushed its row back by the back-off after a second failure (4 minutes).
    for (const id of failing.slice(0, 2)) {
      expect(await row(id)).toMatchObject({ status: 'failed', attempts: 2 });
      expect((await row(id)).nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() + 3 * MINUTE_MS);
    }

    // Five minutes later the two are due again, but the two waiting longer come first.
    await passTime([...failing, good.id], 5 * MINUTE_MS);
    const second = await reconciler.catchUp();
    expect(second.retried).toBe(1);
    expect(second.failures.map((failure) => failure.eventId)).toEqual([failing[2]]);
    expect(await row(good.id)).toMatchObject({ status: 'processed', attempts: 2, nextAttemptAt: null });
    expect(await linkedAccounts('acct_fair')).toEqual(['acct_fair']);
    expect(await row(failing[0] as string)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it(`gives up on a row after ${MAX_ATTEMPTS} attempts or three days: dead, no longer retried, counted, and still replayable`, async () => {
    const reconciler = smallReconciler({ retryBatchSize: 10 });
    // A subscription of a customer no account is linked to (yet): its events fail until someone links it.
    const stranger = await stack.stripe.customers.create({ email: 'stranger@x.io' });
    const [price] = (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data;
    const subscription = await stack.stripe.subscriptions.create({
      customer: stranger.id,
      items: [{ price: price?.id as string }],
      trial_period_days: 7,
    });
    // The walk takes the real events (they fail and wait for their back-off); the rows below are what is due.
    await reconciler.catchUp();
    const now = Math.floor(Date.now() / 1000);
    const tooOften = fakeEvent('customer.subscription.created', subscription, 'evt_dead_attempts');
    await failedRow(tooOften, { attempts: MAX_ATTEMPTS - 1, dueAt: new Date(Date.now() - 2000) });
    const tooOld = alwaysFailing('evt_dead_age', now);
    await failedRow(tooOld, {
      attempts: 1,
      dueAt: new Date(Date.now() - 1000),
      receivedAt: new Date(Date.now() - MAX_AGE_MS - MINUTE_MS),
    });
    const deadBefore = await deadGauge();

    const run = await reconciler.catchUp();
    expect(run).toMatchObject({ failed: 2, dead: 2 });
    expect(run.failures.map((failure) => [failure.eventId, failure.dead])).toEqual([
      [tooOften.id, true],
      [tooOld.id, true],
    ]);
    expect(await row(tooOften.id)).toMatchObject({
      status: 'dead',
      attempts: MAX_ATTEMPTS,
      nextAttemptAt: null,
    });
    expect((await row(tooOften.id)).lastError).toMatch(/not linked to an account yet/);
    expect(await row(tooOld.id)).toMatchObject({ status: 'dead', attempts: 2, nextAttemptAt: null });
    expect(await deadGauge()).toBe(deadBefore + 2);

    // No run retries them any more, however much time passes.
    await passTime([tooOften.id, tooOld.id], 30 * 24 * 60 * MINUTE_MS);
    const later = await reconciler.catchUp();
    expect(later.failures.map((failure) => failure.eventId)).not.toContain(tooOften.id);
    expect(await row(tooOften.id)).toMatchObject({ status: 'dead', attempts: MAX_ATTEMPTS });
    expect(await row(tooOld.id)).toMatchObject({ status: 'dead', attempts: 2 });

    // An admin finds them, fixes the cause (links the customer) and replays.
    const admin = await stack.as('acct_ops', ['admin']);
    const listed = await admin<{
      webhookEvents: { nodes: Array<{ id: string; status: string; nextAttemptAt: string | null }> };
    }>('{ webhookEvents(status: DEAD, first: 10) { nodes { id status nextAttemptAt } } }');
    expect(listed.errors).toBeUndefined();
    expect(listed.data?.webhookEvents.nodes.map((node) => node.id).sort()).toEqual(
      [tooOften.id, tooOld.id].sort(),
    );
    expect(
      listed.data?.webhookEvents.nodes.every((node) => node.status === 'DEAD' && node.nextAttemptAt === null),
    ).toBe(true);

    await em().insert(BillingCustomer, {
      id: randomUUID(),
      accountId: 'acct_revived',
      stripeCustomerId: stranger.id,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const replayed = await admin<{ replayWebhookEvent: { status: string; lastError: string | null } }>(
      'mutation Replay($id: ID!) { replayWebhookEvent(id: $id) { status lastError } }',
      { id: tooOften.id },
    );
    expect(replayed.data?.replayWebhookEvent).toEqual({ status: 'PROCESSED', lastError: null });
    expect(await em().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id })).toMatchObject({
      accountId: 'acct_revived',
      status: 'trialing',
    });
    // A replay that fails again leaves it dead (the policy still says so), not back in the retries.
    const stillDead = await admin<{ replayWebhookEvent: { status: string } }>(
      'mutation Replay($id: ID!) { replayWebhookEvent(id: $id) { status } }',
      { id: tooOld.id },
    );
    expect(stillDead.data?.replayWebhookEvent.status).toBe('DEAD');
    expect(await deadGauge()).toBe(deadBefore + 1);
  });

  /** The `sync_cursor` row of the second listing of event types. */
  async function secondListingCursor(): Promise<string | null> {
    return (await em().findOne(SyncCursor, { name: `${EVENTS_CURSOR}:2` }))?.value ?? null;
  }

  async function newestOfType(type: string): Promise<Stripe.Event> {
    const [newest] = (await stack.stripe.events.list({ type, limit: 1 })).data;
    if (!newest) throw new Error(`no ${type} event`);
    return newest;
  }

  it('lists the handled types in two listings of at most 20 (Stripe refuses more), each on its own cursor', async () => {
    const reconciler = smallReconciler({ maxEventPages: 50 });
    const customer = await stack.stripe.customers.create({
      email: 'two-listings@x.io',
      metadata: { account_id: 'acct_two_listings' },
    });
    // A card set up by a SetupIntent: `setup_intent.succeeded` is of the second listing, the rest of the first.
    const setup = await stack.stripe.setupIntents.create({
      customer: customer.id,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    expect(setup.status).toBe('succeeded');
    const summary = await reconciler.catchUp();
    expect(summary.failures).toEqual([]);
    expect(summary.cursors.map((place) => place.name)).toEqual([EVENTS_CURSOR, `${EVENTS_CURSOR}:2`]);

    const succeeded = await newestOfType('setup_intent.succeeded');
    expect((succeeded.data.object as Stripe.SetupIntent).id).toBe(setup.id);
    expect(await em().findOneOrFail(WebhookEvent, { stripeEventId: succeeded.id })).toMatchObject({
      status: 'processed',
      source: 'reconciler',
    });
    expect(await secondListingCursor()).toBe(`${succeeded.created} ${succeeded.id}`);
    expect(summary.cursors[1]).toEqual({
      name: `${EVENTS_CURSOR}:2`,
      created: succeeded.created,
      eventId: succeeded.id,
    });
    const attached = await newestOfType('payment_method.attached');
    expect(await cursorValue()).toBe(`${attached.created} ${attached.id}`);
  });

  it('starts a listing that has no cursor yet (a type added since) where the others stand, not 30 days back', async () => {
    const reconciler = smallReconciler({ maxEventPages: 50 });
    // Ten seconds after the test before: its setup intent is older than the one second of overlap of a walk by time.
    await stack.advanceClock(10);
    const customer = await stack.stripe.customers.create({
      email: 'added-listing@x.io',
      metadata: { account_id: 'acct_added_listing' },
    });
    await reconciler.catchUp();
    // As after a deploy that made the handled map longer than one listing: the first listing's cursor only.
    await em().nativeDelete(SyncCursor, { name: `${EVENTS_CURSOR}:2` });
    const setup = await stack.stripe.setupIntents.create({
      customer: customer.id,
      payment_method: 'pm_card_mastercard',
      confirm: true,
    });

    const summary = await reconciler.catchUp();
    // Only what happened since: the card's attach (first listing) and its setup (second). Started from the oldest,
    // the second listing would have listed the setup intent of the test before again (a duplicate).
    expect(summary).toMatchObject({ seen: 2, processed: 2, duplicates: 0, failed: 0 });
    const succeeded = await newestOfType('setup_intent.succeeded');
    expect((succeeded.data.object as Stripe.SetupIntent).id).toBe(setup.id);
    expect(await secondListingCursor()).toBe(`${succeeded.created} ${succeeded.id}`);
  });

  /** `billing_webhook_inbox_events{state="dead"}` as `GET /metrics` reports it now. */
  async function deadGauge(): Promise<number> {
    const response = await fetch(`${stack.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const match = /^billing_webhook_inbox_events\{state="dead"\} (\d+)$/m.exec(await response.text());
    if (!match) throw new Error('/metrics has no dead inbox gauge');
    return Number(match[1]);
  }
});
