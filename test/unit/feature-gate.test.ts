import type { Orm } from '../../src/database/database';
import { InMemoryPubSub } from '../../src/pubsub/in-memory-pubsub';
import { Topic } from '../../src/pubsub/topics';
import { FeatureProvisioner } from '../../src/services/subscriptions/feature-provisioner';
import { wallClock } from '../../src/services/time/clock';
import { silentLogger } from '../../src/logging/logger';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import type { MetricKey, Plan } from '../../src/services/plans/plan.types';
import type { AccountAllowances, MetricAllowance } from '../../src/services/usage/account-allowances';
import { decideFeatureAccess } from '../../src/services/usage/feature-access';
import { FeatureGate } from '../../src/services/usage/feature-gate';
import type { UsageFigures } from '../../src/services/usage/usage-reader';

/**
 * Checklist 6.1.4 (feature gate): access by plan, usage limits, unlimited features and the free tier, decided
 * from the real plans/plans.yaml; and the cache's rules, with the database read replaced (the unit boundary).
 */

const catalog = loadPlanCatalog();

function allowancesOf(
  planKey: string,
  overrides: Partial<Record<MetricKey, Partial<MetricAllowance>>> = {},
): AccountAllowances {
  const plan = catalog.find(planKey) as Plan;
  return {
    accountId: 'acct_1',
    plan,
    subscriptionStatus: null,
    currency: null,
    creditsOverageItem: false,
    billingPeriod: null,
    features: new Map(Object.entries(plan.features)),
    metrics: new Map(
      plan.limits.map((limit) => [
        limit.metric,
        {
          metric: limit.metric,
          kind: catalog.metric(limit.metric).kind,
          enabled: true,
          included: limit.included,
          overLimit: limit.overLimit,
          period: null,
          ...overrides[limit.metric],
        },
      ]),
    ),
  };
}

function usage(used: number, included: number | null): UsageFigures {
  return {
    metric: 'ai_requests',
    used,
    included,
    remaining: included === null ? null : Math.max(0, included - used),
    overage: 0,
    periodStart: new Date(0),
    periodEnd: new Date(1),
  };
}

describe('feature access by plan', () => {
  it.each([
    ['free', 'ai_assistant', true],
    ['free', 'api_access', false],
    ['starter', 'api_access', true],
    ['starter', 'team_collaboration', false],
    ['professional', 'team_collaboration', true],
    ['professional', 'sso', false],
    ['enterprise', 'sso', true],
    ['enterprise', 'audit_logs', true],
  ])('%s: %s is %s', (planKey, feature, allowed) => {
    expect(decideFeatureAccess(allowancesOf(planKey), feature, null)).toEqual({
      feature,
      allowed,
      reason: allowed ? null : 'NOT_IN_PLAN',
      limit: null,
      used: null,
      remaining: null,
    });
  });

  it('refuses a feature the catalog does not know', () => {
    expect(decideFeatureAccess(allowancesOf('enterprise'), 'time_travel', null)).toMatchObject({
      allowed: false,
      reason: 'UNKNOWN_FEATURE',
    });
  });
});

describe('usage limits', () => {
  it('free tier: allowed below 100 AI requests, refused at 100', () => {
    expect(decideFeatureAccess(allowancesOf('free'), 'ai_requests', usage(99, 100))).toMatchObject({
      allowed: true,
      reason: null,
      limit: 100,
      used: 99,
      remaining: 1,
    });
    expect(decideFeatureAccess(allowancesOf('free'), 'ai_requests', usage(100, 100))).toMatchObject({
      allowed: false,
      reason: 'LIMIT_REACHED',
      remaining: 0,
    });
  });

  it('a plan that bills overage keeps allowing past the allowance, and says so', () => {
    expect(decideFeatureAccess(allowancesOf('starter'), 'ai_requests', usage(1250, 1000))).toMatchObject({
      allowed: true,
      reason: 'OVERAGE',
      limit: 1000,
      used: 1250,
      remaining: 0,
    });
  });

  it('unlimited features are always allowed', () => {
    expect(
      decideFeatureAccess(allowancesOf('enterprise'), 'ai_requests', usage(5_000_000, null)),
    ).toMatchObject({
      allowed: true,
      reason: null,
      limit: null,
      remaining: null,
    });
  });

  it('a metric switched off by an override is not in the plan', () => {
    const allowances = allowancesOf('professional', { ai_requests: { enabled: false } });
    expect(decideFeatureAccess(allowances, 'ai_requests', usage(0, 10_000))).toMatchObject({
      allowed: false,
      reason: 'NOT_IN_PLAN',
    });
  });

  it('counts a metric with no usage yet as 0 used', () => {
    expect(decideFeatureAccess(allowancesOf('free'), 'seats', null)).toMatchObject({
      allowed: true,
      used: 0,
      remaining: 1,
    });
  });
});

/** A gate whose database read is counted and controlled by the test. */
class CountingGate extends FeatureGate {
  reads = 0;
  nextPlan = 'free';
  release: (() => void) | null = null;
  blockReads = false;

  protected override async load(accountIds: string[]): Promise<Map<string, AccountAllowances>> {
    this.reads += 1;
    const plan = this.nextPlan;
    if (this.blockReads)
      await new Promise<void>((done) => {
        this.release = done;
      });
    return new Map(accountIds.map((accountId) => [accountId, { ...allowancesOf(plan), accountId }]));
  }
}

describe('the entitlement cache', () => {
  const provisioner = new FeatureProvisioner(catalog, 7);
  let pubSub: InMemoryPubSub;

  beforeEach(() => {
    pubSub = new InMemoryPubSub();
  });
  afterEach(() => pubSub.close());

  const gate = async (settings = {}) => {
    const cache = new CountingGate(
      {} as Orm,
      catalog,
      provisioner,
      pubSub,
      silentLogger,
      wallClock,
      settings,
    );
    await cache.start();
    return cache;
  };

  it('reads an account once, then serves it from memory', async () => {
    const cache = await gate();
    await cache.allowances('acct_1');
    await cache.allowances('acct_1');
    expect(cache.reads).toBe(1);
  });

  it('shares one read among concurrent misses', async () => {
    const cache = await gate();
    await Promise.all(Array.from({ length: 20 }, () => cache.allowances('acct_1')));
    expect(cache.reads).toBe(1);
  });

  it('drops an account when its change is published, and reads the new plan', async () => {
    const cache = await gate();
    expect((await cache.allowances('acct_1')).plan.key).toBe('free');
    cache.nextPlan = 'professional';
    await pubSub.publish(Topic.ENTITLEMENTS_CHANGED, { accountId: 'acct_1' });
    expect((await cache.allowances('acct_1')).plan.key).toBe('professional');
    await cache.stop();
  });

  it('does not keep a read that started before the change was published', async () => {
    const cache = await gate();
    cache.blockReads = true;
    const stale = cache.allowances('acct_1');
    await new Promise((done) => setImmediate(done));
    await pubSub.publish(Topic.ENTITLEMENTS_CHANGED, { accountId: 'acct_1' });
    cache.release?.();
    expect((await stale).plan.key).toBe('free');
    cache.blockReads = false;
    cache.nextPlan = 'starter';
    expect((await cache.allowances('acct_1')).plan.key).toBe('starter');
    expect(cache.reads).toBe(2);
    await cache.stop();
  });

  it('keeps nothing while it cannot listen for changes, and caches once it can', async () => {
    let refuse = true;
    const flaky = Object.assign(Object.create(pubSub), {
      listen: (topic: string, onMessage: (payload: unknown) => void) =>
        refuse ? Promise.reject(new Error('Redis is down')) : pubSub.listen(topic, onMessage),
    });
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const cache = new CountingGate({} as Orm, catalog, provisioner, flaky, silentLogger);
      await cache.start();
      await cache.allowances('acct_1');
      await cache.allowances('acct_1');
      expect(cache.reads).toBe(2);
      refuse = false;
      await jest.advanceTimersByTimeAsync(2000);
      await cache.allowances('acct_1');
      await cache.allowances('acct_1');
      expect(cache.reads).toBe(3);
      await cache.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('expires entries after the time to live', async () => {
    const cache = await gate({ ttlMs: 0 });
    await cache.allowances('acct_1');
    await cache.allowances('acct_1');
    expect(cache.reads).toBe(2);
  });

  it('reads many accounts in one go, and only those not cached', async () => {
    const cache = await gate();
    await cache.allowances('a');
    const all = await cache.allowancesOf(['a', 'b', 'c', 'b']);
    expect(all.map((allowances) => allowances.accountId)).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.reads).toBe(2);
  });

  it('keeps at most maxEntries accounts, dropping the oldest', async () => {
    const cache = await gate({ maxEntries: 2 });
    for (const account of ['a', 'b', 'c']) await cache.allowances(account);
    expect(cache.size).toBe(2);
    await cache.allowances('a');
    expect(cache.reads).toBe(4);
  });
});
