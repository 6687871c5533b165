import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { Entitlement, Subscription, WebhookEvent } from '../../src/entities';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { createWebhookProcessor } from '../../src/app/webhook-pipeline';
import { silentLogger } from '../../src/logging/logger';
import { WebhookProcessor } from '../../src/webhooks/pipeline/webhook-processor';
import { WebhookQueue } from '../../src/webhooks/pipeline/webhook-queue';
import { settleWebhooks } from '../support/billing-stack';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestEmulator, type TestEmulator } from '../support/emulator';
import { describeWithRedis, testRedisUrl } from '../support/redis';
import { startTestService, type TestService, stripeServicesOf } from '../support/service';
import {
  differencesFromStripe,
  aSecondOfOurOwn,
  emulatorPost,
  eventsSince,
  inbox,
  inboxProblems,
  inParallel,
  postWebhook,
  setWebhookMode,
  signEvent,
} from '../support/webhook-harness';

/**
 * The guarantees of issue 5 against real PostgreSQL and the emulator: two instances on one database process an
 * event exactly once however many times and wherever it is delivered, and 500+ events delivered out of order,
 * twice, concurrently, to two instances leave our database equal to Stripe's state.
 */

jest.setTimeout(90_000);

/**
 * Records, per event, on every instance in this process: what the endpoint answered each delivery (`queued`,
 * `duplicate`), and what processing it answered (the queue's workers, and the reconciler's direct path).
 */
function recordOutcomes(): {
  deliveries: Map<string, string[]>;
  outcomes: Map<string, string[]>;
  restore(): void;
} {
  const deliveries = new Map<string, string[]>();
  const outcomes = new Map<string, string[]>();
  const add = (map: Map<string, string[]>, id: string, outcome: string) =>
    map.set(id, [...(map.get(id) ?? []), outcome]);
  const accept = WebhookQueue.prototype.accept;
  const accepting = jest.spyOn(WebhookQueue.prototype, 'accept').mockImplementation(async function (
    this: WebhookQueue,
    event,
  ) {
    const outcome = await accept.call(this, event);
    add(deliveries, event.id, outcome);
    return outcome;
  });
  const processClaimed = WebhookProcessor.prototype.processClaimed;
  const processing = jest
    .spyOn(WebhookProcessor.prototype, 'processClaimed')
    .mockImplementation(async function (this: WebhookProcessor, claimed) {
      const outcome = await processClaimed.call(this, claimed);
      add(outcomes, claimed.stripeEventId, outcome);
      return outcome;
    });
  const process = WebhookProcessor.prototype.process;
  const direct = jest.spyOn(WebhookProcessor.prototype, 'process').mockImplementation(async function (
    this: WebhookProcessor,
    event,
    source,
  ) {
    const outcome = await process.call(this, event, source);
    add(outcomes, event.id, outcome);
    return outcome;
  });
  return {
    deliveries,
    outcomes,
    restore: () => {
      accepting.mockRestore();
      processing.mockRestore();
      direct.mockRestore();
    },
  };
}

async function startInstances(
  database: TestDatabase,
  env: Record<string, string>,
): Promise<[TestService, TestService]> {
  const [a, b] = await Promise.all([
    startTestService({ database, env }),
    startTestService({ database, env }),
  ]);
  return [a, b];
}

/** A Stripe customer of `accountId` on a starter trial, made in the emulator (its webhooks are not delivered). */
async function trialingStarter(emulator: TestEmulator, accountId: string, email: string) {
  const customer = await emulator.stripe.customers.create({ email, metadata: { account_id: accountId } });
  const [price] = (await emulator.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data;
  return emulator.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price?.id as string }],
    trial_period_days: 14,
    metadata: { account_id: accountId },
  });
}

describe('two instances on one database', () => {
  let database: TestDatabase;
  let emulator: TestEmulator;
  let instances: TestService[] = [];
  const secret = `whsec_${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    [database, emulator] = await Promise.all([createTestDatabase(), startTestEmulator()]);
    await syncCatalog(emulator.stripe, loadPlanCatalog());
    instances = await startInstances(database, { ...emulator.env, STRIPE_WEBHOOK_SECRET: secret });
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await emulator?.close();
    await database?.drop();
  });

  it('one event delivered ten times at once to two instances: answers 200 to all, stores it once, processes and applies it once', async () => {
    const accountId = 'acct_ten_deliveries';
    const subscription = await trialingStarter(emulator, accountId, 'ten@example.com');
    const event = (
      await emulator.stripe.events.list({ type: 'customer.subscription.created', limit: 100 })
    ).data.find((candidate) => (candidate.data.object as Stripe.Subscription).id === subscription.id);
    if (!event) throw new Error('the emulator emitted no customer.subscription.created');

    const published = instances.map((instance) => jest.spyOn(instance.app.services.events, 'accountUpdated'));
    const recorder = recordOutcomes();
    let answers: Array<{ status: number; outcome: string | null }>;
    try {
      answers = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          postWebhook(instances[index % 2].url, signEvent(event, secret)),
        ),
      );
      // Both instances' queues, until nothing is left to claim.
      await Promise.all(instances.map((instance) => instance.app.webhookQueue?.drain()));
    } finally {
      recorder.restore();
    }

    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((answer) => answer.outcome === 'queued')).toHaveLength(1);
    expect(answers.filter((answer) => answer.outcome === 'duplicate')).toHaveLength(9);
    // One worker, on one of the two instances, processed it; no other attempt was made.
    expect(recorder.outcomes.get(event.id)).toEqual(['processed']);

    const em = instances[0].app.orm.em.fork();
    const rows = await em.find(WebhookEvent, { stripeEventId: event.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'processed', attempts: 1, lastError: null });
    // The effect happened once: one subscription row, and one live update published by one instance.
    const subscriptions = await em.find(Subscription, { accountId });
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]).toMatchObject({ stripeSubscriptionId: subscription.id, status: 'trialing' });
    const publications = published.flatMap((spy) => spy.mock.calls);
    expect(publications).toEqual([[accountId, 'customer.subscription.created']]);
    for (const spy of published) spy.mockRestore();
  });

  it('provisions a new account from two instances at once (a webhook and a mutation racing) without a conflict', async () => {
    const accounts = Array.from({ length: 5 }, (_, index) => `acct_provision_race_${index}`);
    const results = await Promise.allSettled(
      accounts.flatMap((accountId) =>
        instances.map((instance) =>
          instance.app.orm.em
            .fork()
            .transactional((tx) => instance.app.services.provisioner.provision(tx, accountId, new Date())),
        ),
      ),
    );
    const failures = results.flatMap((result) =>
      result.status === 'rejected' ? [String(result.reason).slice(-160)] : [],
    );
    expect(failures).toEqual([]);
    const em = instances[0].app.orm.em.fork();
    for (const accountId of accounts) {
      const rows = await em.find(Entitlement, { accountId });
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((row) => row.featureKey)).size).toBe(rows.length);
    }
  });

  it('a handler that read Stripe before a change never overwrites the state another one read after it', async () => {
    const accountId = 'acct_slow_reader';
    const subscription = await trialingStarter(emulator, accountId, 'slow@example.com');
    const eventAbout = async (type: string) => {
      const found = (await emulator.stripe.events.list({ type, limit: 100 })).data.find(
        (candidate) => (candidate.data.object as Stripe.Subscription).id === subscription.id,
      );
      if (!found) throw new Error(`the emulator emitted no ${type}`);
      return found;
    };
    const created = await eventAbout('customer.subscription.created');

    // Instance A reads the subscription for the first event, then stalls (a slow network, a GC pause)...
    const client = stripeServicesOf(instances[0].app).stripe;
    const realCall = client.call.bind(client);
    let release: () => void = () => undefined;
    const released = new Promise<void>((done) => {
      release = done;
    });
    let hasRead: () => void = () => undefined;
    const read = new Promise<void>((done) => {
      hasRead = done;
    });
    const stall = jest.spyOn(client, 'call').mockImplementation(async (operation, send, intent) => {
      const result = await realCall(operation, send, intent);
      // The handler's read of the subscription: the customer's listing, which holds it (issue 14), or a retrieve.
      if (operation === 'subscriptions.list' || operation === 'subscriptions.retrieve') {
        hasRead();
        await released;
      }
      return result;
    });
    try {
      // A's worker takes the first event from the queue and stalls after its read.
      expect(await postWebhook(instances[0].url, signEvent(created, secret))).toEqual({
        status: 200,
        outcome: 'queued',
      });
      await read;
      stall.mockRestore();
      // ...meanwhile the subscription changes in Stripe, and instance B's reconciler processes the event about that
      // change (the queue would keep it behind the first event of the same customer: the reconciler does not).
      await emulator.stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
      const updated = await eventAbout('customer.subscription.updated');
      const { app } = instances[1];
      const processorOfB = createWebhookProcessor(
        app.orm,
        app.services,
        stripeServicesOf(app),
        null,
        silentLogger,
      );
      expect(await processorOfB.process(updated, 'reconciler')).toBe('processed');
      release();
      await instances[0].app.webhookQueue?.drain();
      expect(
        (await instances[0].app.orm.em.fork().findOneOrFail(WebhookEvent, { stripeEventId: created.id }))
          .status,
      ).toBe('processed');
    } finally {
      stall.mockRestore();
      release();
    }
    const row = await instances[0].app.orm.em
      .fork()
      .findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id });
    expect(row.cancelAtPeriodEnd).toBe(true);
  });
});

describeWithRedis('500+ events out of order, each twice, concurrently, to two instances', () => {
  let database: TestDatabase;
  let emulator: TestEmulator;
  let instances: TestService[] = [];

  beforeAll(async () => {
    [database, emulator] = await Promise.all([createTestDatabase(), startTestEmulator()]);
    await syncCatalog(emulator.stripe, loadPlanCatalog());
    // One endpoint per instance, as two regions of one deployment would register; both share one database.
    const endpoints = await Promise.all(
      [0, 1].map(() =>
        emulator.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/pending', enabled_events: ['*'] }),
      ),
    );
    instances = await startInstances(database, {
      ...emulator.env,
      REDIS_URL: testRedisUrl,
      LOG_LEVEL: process.env.DEBUG_LOG_LEVEL ?? 'silent',
      STRIPE_WEBHOOK_SECRET: endpoints.map((endpoint) => endpoint.secret as string).join(','),
    });
    await Promise.all(
      endpoints.map((endpoint, index) =>
        emulator.stripe.webhookEndpoints.update(endpoint.id, {
          url: `${instances[index].url}/webhooks/stripe`,
        }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await emulator?.close();
    await database?.drop();
  });

  async function as(accountId: string) {
    const instance = instances[accountId.length % 2];
    const token = await instance.token(accountId, { email: `${accountId}@example.com` });
    return async <T>(query: string): Promise<T> => {
      const response = await instance.graphql<T>(query, { token });
      if (response.errors?.length || !response.data)
        throw new Error(`${accountId}: ${query}: ${JSON.stringify(response.errors)}`);
      return response.data;
    };
  }

  it('ends with the database equal to Stripe, every event processed exactly once, nothing failed', async () => {
    const startedAt = await aSecondOfOurOwn(emulator.url);
    await setWebhookMode(emulator.url, {
      order: 'shuffle',
      window: 20,
      twice: true,
      concurrent: true,
      retry_schedule_ms: [100, 200, 400, 800, 1600],
    });
    const recorder = recordOutcomes();
    try {
      const accounts = Array.from({ length: 24 }, (_, index) => `acct_chaos_${index}`);
      await inParallel(accounts, 6, async (accountId, index) => {
        const gql = await as(accountId);
        if (index % 2 === 0) {
          const { createCheckoutSession } = await gql<{ createCheckoutSession: { id: string } }>(
            'mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "http://localhost:3000/ok", cancelUrl: "http://localhost:3000/no" }) { id } }',
          );
          await emulatorPost(
            emulator.url,
            `/_emulator/checkout/sessions/${createCheckoutSession.id}/complete`,
            {
              card: '4242424242424242',
            },
          );
          // The success page reads the session (and stores the subscription) before the webhooks arrive.
          await gql(`{ checkoutSession(id: "${createCheckoutSession.id}") { status } }`);
        } else {
          await gql(
            'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
          );
        }
        switch (index % 5) {
          case 0:
            await gql('mutation { changeSubscription(input: { planKey: "professional" }) { id } }');
            break;
          case 1:
            await gql('mutation { changeSubscription(input: { planKey: "professional" }) { id } }');
            await gql(
              'mutation { changeSubscription(input: { planKey: "starter", applyAt: PERIOD_END }) { id } }',
            );
            break;
          case 2:
            await gql('mutation { cancelSubscription(input: { atPeriodEnd: true }) { id } }');
            break;
          case 3:
            await gql('mutation { cancelSubscription(input: { atPeriodEnd: false }) { id } }');
            break;
          default: {
            await gql(`mutation { updateCustomer(input: { name: "Customer ${index}" }) { id } }`);
            const { viewer } = await gql<{ viewer: { customer: { id: string } } }>(
              '{ viewer { customer { id } } }',
            );
            const card = await emulator.stripe.paymentMethods.attach('pm_card_mastercard', {
              customer: viewer.customer.id,
            });
            await emulator.stripe.customers.update(viewer.customer.id, {
              invoice_settings: { default_payment_method: card.id },
            });
          }
        }
      });
      // A month and a bit: renewals, the scheduled downgrades, the cancellations at period end.
      await emulatorPost(emulator.url, '/_emulator/clock/advance', { seconds: 32 * 86_400 });
      await settleWebhooks(emulator.url, instances, 60_000);

      const emitted = await eventsSince(emulator.stripe, startedAt);
      expect(emitted.length).toBeGreaterThanOrEqual(500);
      const { problems, compared } = await differencesFromStripe(emulator.stripe, database.url);
      expect(problems).toEqual([]);
      // Every account's customer and subscription, and at least its first invoice, were compared.
      expect(compared.customers).toBe(accounts.length);
      expect(compared.subscriptions).toBe(accounts.length);
      expect(compared.invoices).toBeGreaterThanOrEqual(2 * accounts.length);
      expect(inboxProblems(await inbox(database.url), emitted)).toEqual([]);
      // Exactly once: of all the deliveries of a handled event (four at least: two endpoints, twice), one stored
      // it and one worker applied it.
      const handled = emitted.filter((event) => recorder.outcomes.get(event.id)?.includes('processed'));
      expect(handled.length).toBeGreaterThan(200);
      const appliedTwice = handled.filter(
        (event) => recorder.outcomes.get(event.id)?.filter((outcome) => outcome === 'processed').length !== 1,
      );
      expect(appliedTwice.map((event) => event.id)).toEqual([]);
      for (const event of emitted) {
        const answers = recorder.deliveries.get(event.id) ?? [];
        expect(answers.length).toBeGreaterThanOrEqual(4);
        expect(answers.filter((answer) => answer !== 'duplicate').length).toBeGreaterThanOrEqual(1);
      }
    } finally {
      recorder.restore();
      await setWebhookMode(emulator.url, { reset: true });
    }
    // Its own limit: 60 s alone, and past the file's 90 s when the whole suite shares two cores with it (a full
    // run saw it time out at 90 s with nothing wrong but the time).
  }, 240_000);
});
