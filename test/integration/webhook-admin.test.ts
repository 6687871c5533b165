import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { BillingCustomer, Subscription, WebhookEvent } from '../../src/entities';
import { type BillingStack, type GraphQLCaller, startBillingStack } from '../support/billing-stack';

/** The admin side of the inbox: listing events, replaying one, resyncing an account. */

interface WebhookEventNode {
  id: string;
  type: string;
  status: string;
  attempts: number;
  lastError: string | null;
  objectId: string | null;
  source: string;
  receivedAt: string;
  processedAt: string | null;
}

interface EventsPage {
  webhookEvents: {
    nodes: WebhookEventNode[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const EVENTS = `query ($status: WebhookEventStatus, $first: Int, $after: String) {
  webhookEvents(status: $status, first: $first, after: $after) {
    nodes { id type status attempts lastError objectId source receivedAt processedAt }
    pageInfo { hasNextPage endCursor }
  }
}`;
const REPLAY =
  'mutation ($id: ID!) { replayWebhookEvent(id: $id) { id status attempts lastError processedAt } }';
const RESYNC =
  'mutation ($id: ID!) { resyncAccount(accountId: $id) { id subscription { status } plan { key } } }';

describe('webhook inbox administration', () => {
  let stack: BillingStack;
  let admin: GraphQLCaller;
  let user: GraphQLCaller;

  beforeAll(async () => {
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0' });
    admin = await stack.as('acct_operator', ['admin']);
    user = await stack.as('acct_user');
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  /** Inbox rows as the processor writes them, arriving one second apart (the last two in the same ms). */
  async function seedInbox(
    prefix: string,
    statuses: Array<'processed' | 'failed' | 'ignored'>,
  ): Promise<string[]> {
    const base = Date.now() - 3_600_000;
    const ids: string[] = [];
    for (const [index, status] of statuses.entries()) {
      const stripeEventId = `evt_${prefix}_${index}`;
      const receivedAt = new Date(base + Math.min(index, statuses.length - 2) * 1000);
      await em().insert(WebhookEvent, {
        id: randomUUID(),
        stripeEventId,
        type: 'customer.updated',
        payload: {
          id: stripeEventId,
          object: 'event',
          type: 'customer.updated',
          data: { object: { id: 'cus_seed' } },
        },
        objectId: 'cus_seed',
        status,
        attempts: 1,
        lastError: status === 'failed' ? 'seeded failure' : null,
        // A failed row always has its next attempt due later (the retry policy); without one it is due at once,
        // and a queue worker's poll took it mid-test (CI: attempts 2, another error).
        nextAttemptAt: status === 'failed' ? new Date(Date.now() + 3_600_000) : null,
        stripeCreatedAt: receivedAt,
        receivedAt,
        processedAt: status === 'failed' ? null : receivedAt,
        createdAt: receivedAt,
        updatedAt: new Date(),
      });
      ids.push(stripeEventId);
    }
    return ids;
  }

  it('refuses callers without the admin role', async () => {
    for (const [query, variables] of [
      [EVENTS, {}],
      [REPLAY, { id: 'evt_any' }],
      [RESYNC, { id: 'acct_user' }],
    ] as const) {
      const result = await user(query, variables);
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(result.data ?? null).toBeNull();
    }
    const service = await stack.as('acct_gateway', ['service']);
    expect((await service(EVENTS)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('lists events newest first, filtered by status, a page at a time', async () => {
    const seeded = await seedInbox('page', [
      'processed',
      'failed',
      'processed',
      'processed',
      'ignored',
      'processed',
      'processed',
    ]);
    const processed = seeded.filter((_, index) => [0, 2, 3, 5, 6].includes(index));

    const seen: WebhookEventNode[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const result: { data?: EventsPage | null } = await admin<EventsPage>(EVENTS, {
        status: 'PROCESSED',
        first: 2,
        after,
      });
      const connection = result.data?.webhookEvents;
      if (!connection) throw new Error('no webhookEvents page');
      expect(connection.nodes.length).toBeLessThanOrEqual(2);
      seen.push(...connection.nodes);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    // Rows 5 and 6 arrived in the same millisecond: the id breaks the tie, and neither is lost or repeated.
    expect(seen.map((node) => node.id).sort()).toEqual([...processed].sort());
    expect(seen.map((node) => node.status)).toEqual(processed.map(() => 'PROCESSED'));
    const times = seen.map((node) => Date.parse(node.receivedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(seen[0]).toMatchObject({
      type: 'customer.updated',
      objectId: 'cus_seed',
      source: 'webhook',
      attempts: 1,
    });

    const failed = await admin<EventsPage>(EVENTS, { status: 'FAILED' });
    expect(failed.data?.webhookEvents.nodes).toEqual([
      expect.objectContaining({
        id: seeded[1],
        status: 'FAILED',
        lastError: 'seeded failure',
        processedAt: null,
      }),
    ]);
    const all = await admin<EventsPage>(EVENTS, { first: 100 });
    expect(all.data?.webhookEvents.nodes.map((node) => node.id)).toEqual(expect.arrayContaining(seeded));
    expect(all.data?.webhookEvents.pageInfo.hasNextPage).toBe(false);

    expect((await admin(EVENTS, { first: 0 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
    expect((await admin(EVENTS, { after: 'not-a-cursor' })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
  });

  it('replays a failed event into PROCESSED once the cause is fixed, and re-runs a processed one on demand', async () => {
    // A subscription of a customer no account is linked to: its events fail.
    const customer = await stack.stripe.customers.create({ email: 'replay@x.io' });
    const starter = (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0];
    const subscription = await stack.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: starter.id }],
      trial_period_days: 7,
    });
    const reconciler = stack.app.reconciler;
    if (!reconciler) throw new Error('no reconciler');
    await reconciler.catchUp();
    // The instance's queue may also have taken the stored event (it claims what arrives): let it finish, so the
    // attempts read here are all there are before the replay.
    await stack.drainWebhooks();
    const failedRow = await em().findOneOrFail(WebhookEvent, {
      type: 'customer.subscription.created',
      objectId: subscription.id,
    });
    expect(failedRow.status).toBe('failed');

    const stillFailing = await admin<{ replayWebhookEvent: WebhookEventNode }>(REPLAY, {
      id: failedRow.stripeEventId,
    });
    expect(stillFailing.data?.replayWebhookEvent).toMatchObject({
      status: 'FAILED',
      attempts: failedRow.attempts + 1,
    });
    expect(stillFailing.data?.replayWebhookEvent.lastError).toMatch(/not linked to an account yet/);

    // An operator links the customer to its account; the replay now goes through.
    await em().insert(BillingCustomer, {
      id: randomUUID(),
      accountId: 'acct_replayed',
      stripeCustomerId: customer.id,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const replayed = await admin<{ replayWebhookEvent: WebhookEventNode }>(REPLAY, {
      id: failedRow.stripeEventId,
    });
    expect(replayed.errors).toBeUndefined();
    expect(replayed.data?.replayWebhookEvent).toMatchObject({
      id: failedRow.stripeEventId,
      status: 'PROCESSED',
      attempts: failedRow.attempts + 2,
      lastError: null,
    });
    expect(await em().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id })).toMatchObject({
      accountId: 'acct_replayed',
      status: 'trialing',
    });

    // A processed event is processed again when asked (a forced replay), not answered as a duplicate.
    await em().nativeUpdate(Subscription, { stripeSubscriptionId: subscription.id }, { status: 'canceled' });
    const again = await admin<{ replayWebhookEvent: WebhookEventNode }>(REPLAY, {
      id: failedRow.stripeEventId,
    });
    expect(again.data?.replayWebhookEvent).toMatchObject({
      status: 'PROCESSED',
      attempts: failedRow.attempts + 3,
    });
    expect((await em().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id })).status).toBe(
      'trialing',
    );

    const missing = await admin(REPLAY, { id: 'evt_never_seen' });
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('resyncs an account from Stripe and answers with its state', async () => {
    const sub = await em().findOneOrFail(Subscription, { accountId: 'acct_replayed' });
    await em().nativeUpdate(Subscription, { id: sub.id }, { status: 'canceled' });
    const result = await admin<{
      resyncAccount: { id: string; subscription: { status: string } | null; plan: { key: string } };
    }>(RESYNC, { id: 'acct_replayed' });
    expect(result.errors).toBeUndefined();
    expect(result.data?.resyncAccount).toEqual({
      id: 'acct_replayed',
      subscription: { status: 'TRIALING' },
      plan: { key: 'starter' },
    });
    const subscriptionInStripe: Stripe.Subscription = await stack.stripe.subscriptions.retrieve(
      sub.stripeSubscriptionId,
    );
    expect((await em().findOneOrFail(Subscription, { id: sub.id })).status).toBe(subscriptionInStripe.status);

    const unknown = await admin(RESYNC, { id: 'acct_without_customer' });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
