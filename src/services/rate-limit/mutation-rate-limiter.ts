import type Redis from 'ioredis';
import type { Caller } from '../../auth/caller';
import type { Logger } from '../../logging/logger';
import { RedisTokenBuckets } from './redis-token-bucket';
import { type BucketLimit, InMemoryTokenBuckets, type TokenBuckets } from './token-bucket';

/**
 * Mutations by what they cost us. `stripe`: each one calls Stripe (whose own limit all accounts share) and may
 * create objects there. `usage`: recording usage, which touches only our database. `stripeRead`: fields of the
 * viewer that read Stripe each time they are asked for (the next bill, an invoice in full, a discount), with a
 * budget of their own, larger than the mutations': a billing page asks for them on every refresh, and must not
 * use up what a plan change needs.
 */
export type MutationClass = 'stripe' | 'usage' | 'stripeRead';

/**
 * The rate-limited operations, by class: the mutations, and the two queries that call Stripe (a preview, and
 * a checkout session read back), which would otherwise let one account spend the Stripe rate every account
 * shares. Any field not listed (the admin mutations, the other queries) is not limited.
 */
export const MUTATION_CLASSES: Readonly<Record<string, MutationClass>> = {
  previewSubscriptionChange: 'stripe',
  checkoutSession: 'stripe',
  createSubscription: 'stripe',
  changeSubscription: 'stripe',
  cancelSubscription: 'stripe',
  resumeSubscription: 'stripe',
  endTrial: 'stripe',
  // Also what bounds guessing codes: each try reads Stripe.
  applyPromotionCode: 'stripe',
  setSeats: 'stripe',
  createCheckoutSession: 'stripe',
  createPortalSession: 'stripe',
  updateCustomer: 'stripe',
  addTaxId: 'stripe',
  removeTaxId: 'stripe',
  createPaymentMethodSetupSession: 'stripe',
  createPaymentMethodSetupIntent: 'stripe',
  setDefaultPaymentMethod: 'stripe',
  removePaymentMethod: 'stripe',
  recordUsage: 'usage',
  recordUsageBatch: 'usage',
  reserveUsage: 'usage',
  commitUsage: 'usage',
  releaseUsage: 'usage',
};

/** The fields below the root that read Stripe when asked for, as `Type.field` (limited as `stripeRead`). */
export const STRIPE_READ_FIELDS: readonly string[] = [
  'Account.upcomingInvoice',
  'Account.invoice',
  'BillingSubscription.discount',
  'Customer.taxIds',
  'Customer.taxExempt',
  'PendingAction.clientSecret',
];

export interface RateLimitSettings {
  enabled: boolean;
  /** Stripe-touching mutations per account per minute (also the burst). */
  stripePerMinute: number;
  /** Usage mutations per account per minute (also the burst); the service role is exempt. */
  usagePerMinute: number;
  /** Reads of Stripe below the root (`STRIPE_READ_FIELDS`) per account per minute (also the burst). */
  stripeReadsPerMinute: number;
}

/** A refused mutation: when the caller may try again. */
export interface RateLimitRefusal {
  mutationClass: MutationClass;
  retryAfterSeconds: number;
}

/** How long Redis stays skipped after a failure, before it is tried again. */
const REDIS_RETRY_MS = 5_000;

/**
 * Per-account budgets for mutations, as token buckets in Redis (shared by every instance) with an in-memory
 * fallback while Redis is down or not configured.
 *
 * The budget is the caller's own account (the token's `sub`), whatever account the mutation names: an admin
 * acting for a customer spends the admin's budget, not the customer's. The `service` role is not limited on
 * usage: it is our own backend (the AI gateway) recording every customer's usage, so its volume is the sum of
 * all customers' traffic, and a refusal would lose billable usage. Hard limits on usage itself are the plans'
 * (USAGE_LIMIT_EXCEEDED). Stripe mutations stay limited for every role.
 */
export class MutationRateLimiter {
  private readonly memory = new InMemoryTokenBuckets();
  private readonly redis: TokenBuckets | null;
  private redisSkippedUntil = 0;
  private readonly limits: Record<MutationClass, BucketLimit>;

  constructor(
    private readonly settings: RateLimitSettings,
    redis: Redis | null,
    private readonly logger: Logger,
    /** Names the budgets' keys in Redis (the database's name): deployments sharing a Redis count apart. */
    private readonly namespace: string,
  ) {
    this.redis = redis && settings.enabled ? new RedisTokenBuckets(redis) : null;
    this.limits = {
      stripe: perMinute(settings.stripePerMinute),
      usage: perMinute(settings.usagePerMinute),
      stripeRead: perMinute(settings.stripeReadsPerMinute),
    };
  }

  /**
   * The class of a root field (by its name) or of a field below the root (`Type.field`), or null when it is
   * not limited (or limiting is off).
   */
  classOf(field: string): MutationClass | null {
    if (!this.settings.enabled) return null;
    if (STRIPE_READ_FIELDS.includes(field)) return 'stripeRead';
    return MUTATION_CLASSES[field] ?? null;
  }

  /**
   * Takes one token from the caller's budget for `mutationClass`; null when allowed, else the refusal.
   * Anonymous callers are not counted: every limited mutation refuses them anyway.
   */
  async take(caller: Caller, mutationClass: MutationClass): Promise<RateLimitRefusal | null> {
    if (caller.kind !== 'authenticated') return null;
    if (mutationClass === 'usage' && caller.roles.has('service')) return null;
    const key = `rate-limit:${this.namespace}:{${caller.accountId}}:${mutationClass}`;
    const limit = this.limits[mutationClass];
    const result = await this.takeFromStore(key, limit);
    if (result.allowed) return null;
    return { mutationClass, retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) };
  }

  private async takeFromStore(key: string, limit: BucketLimit) {
    if (this.redis && Date.now() >= this.redisSkippedUntil) {
      try {
        return await this.redis.take(key, limit);
      } catch (error) {
        // Limits go on per instance rather than failing mutations or letting everything through.
        this.redisSkippedUntil = Date.now() + REDIS_RETRY_MS;
        this.logger.warn(
          { err: error, retryInMs: REDIS_RETRY_MS },
          'rate limits: Redis is unreachable, counting in this instance until it is back',
        );
      }
    }
    return this.memory.takeNow(key, limit);
  }
}

function perMinute(count: number): BucketLimit {
  return { capacity: count, refillPerSecond: count / 60 };
}
