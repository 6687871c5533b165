import type { Orm } from '../../database/database';
import type { BillingPubSub } from '../../pubsub/pubsub';
import { type EntitlementsChangedPayload, Topic } from '../../pubsub/topics';
import { type Clock, wallClock } from '../time/clock';
import type { EntitlementProvisioning } from './entitlement-provisioning';
import type { Logger } from '../../logging/logger';
import type { PlanCatalog } from '../plans/plan-catalog';
import { type AccountAllowances, loadAccountAllowances } from './account-allowances';

export interface FeatureGateSettings {
  /**
   * How long an entry may be served without an invalidation. Invalidations arrive through pub/sub the moment
   * provisioning commits; this bound only matters if one is lost (a Redis outage), and for grace periods
   * running out by the clock alone.
   */
  ttlMs: number;
  /** Entries kept at most (the least recently loaded are dropped first). */
  maxEntries: number;
}

const DEFAULT_SETTINGS: FeatureGateSettings = { ttlMs: 30_000, maxEntries: 50_000 };

interface CacheEntry {
  value: AccountAllowances;
  expiresAt: number;
}

/** A load in flight; `stale` is set when the account changes before it finishes, so its result is not kept. */
interface PendingLoad {
  promise: Promise<AccountAllowances>;
  stale: boolean;
}

/**
 * Answers "what may this account do?" from a per-instance cache, so a feature check on the hot path costs no
 * database round trip. Every instance drops an account's entry when it hears that the account's billing changed
 * (`Topic.ENTITLEMENTS_CHANGED`, sent after commit by `AccountEvents`): the instance that made the change at once,
 * the others when Redis delivers the message, which is before they deliver the `accountUpdated` that follows it
 * on the same connection, so a client told of a change is never served from before it.
 */
export class FeatureGate {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, PendingLoad>();
  private readonly settings: FeatureGateSettings;
  private unsubscribe: (() => Promise<void>) | null = null;
  /** Whether invalidations can reach this instance: only then are entries kept at all. */
  private listening = false;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly orm: Orm,
    private readonly catalog: PlanCatalog,
    private readonly provisioner: EntitlementProvisioning,
    private readonly pubSub: BillingPubSub,
    private readonly logger: Logger,
    private readonly clock: Clock = wallClock,
    settings: Partial<FeatureGateSettings> = {},
  ) {
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
  }

  /**
   * Starts listening for invalidations. Until the subscription is in place (Redis down at start-up) the gate
   * keeps nothing: every check reads the database, slower but never stale; it retries every 2 s meanwhile.
   */
  async start(): Promise<void> {
    // Changes published while the connection was down were missed: start again from the database.
    this.pubSub.onReconnect(() => {
      this.logger.warn({}, 'pub/sub reconnected: dropping every cached entitlement');
      this.clear();
    });
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    this.listening = false;
    await unsubscribe?.().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    try {
      this.unsubscribe = await this.pubSub.listen(Topic.ENTITLEMENTS_CHANGED, (payload) => {
        const { accountId } = payload as EntitlementsChangedPayload;
        if (typeof accountId === 'string') this.invalidate(accountId);
      });
      this.listening = true;
    } catch (error) {
      this.logger.warn(
        { err: error },
        'cannot listen for entitlement changes: entitlements are read from the database until it can',
      );
      if (this.stopped) return;
      this.retry = setTimeout(() => void this.listen(), 2000);
      this.retry.unref();
    }
  }

  /** The account's allowances now: from the cache, or read once however many callers ask at the same time. */
  async allowances(accountId: string): Promise<AccountAllowances> {
    const [allowances] = await this.allowancesOf([accountId]);
    return allowances as AccountAllowances;
  }

  /** Several accounts' allowances; those not cached or already being read are read together, in one go. */
  async allowancesOf(accountIds: readonly string[]): Promise<AccountAllowances[]> {
    const now = Date.now();
    const missing = [...new Set(accountIds)].filter(
      (accountId) => !this.pending.has(accountId) && !((this.cache.get(accountId)?.expiresAt ?? 0) > now),
    );
    if (missing.length > 0) this.startLoads(missing);
    return Promise.all(
      accountIds.map((accountId) => {
        const entry = this.cache.get(accountId);
        if (entry && entry.expiresAt > now) return entry.value;
        return (this.pending.get(accountId) as PendingLoad).promise;
      }),
    );
  }

  private startLoads(accountIds: string[]): void {
    const batch = this.load(accountIds);
    for (const accountId of accountIds) {
      const load: PendingLoad = {
        promise: batch.then((loaded) => loaded.get(accountId) as AccountAllowances),
        stale: false,
      };
      this.pending.set(accountId, load);
      load.promise
        .then((value) => {
          if (!load.stale) this.remember(accountId, value);
        })
        .catch(() => undefined)
        .finally(() => {
          if (this.pending.get(accountId) === load) this.pending.delete(accountId);
        });
    }
  }

  /**
   * The accounts' allowances read from the database now, bypassing (and not filling) the cache: for reads that
   * must agree with other fields of the same response (the billing page's entitlements beside its subscription).
   */
  async freshAllowancesOf(accountIds: readonly string[]): Promise<AccountAllowances[]> {
    const loaded = await this.load([...new Set(accountIds)]);
    return accountIds.map((accountId) => loaded.get(accountId) as AccountAllowances);
  }

  /** Forgets what this instance knows of the account (called for every published change, and by tests). */
  invalidate(accountId: string): void {
    this.cache.delete(accountId);
    const inFlight = this.pending.get(accountId);
    if (inFlight) {
      inFlight.stale = true;
      this.pending.delete(accountId);
    }
  }

  /** Forgets everything (after a pub/sub outage, when invalidations may have been missed). */
  clear(): void {
    this.cache.clear();
    for (const load of this.pending.values()) load.stale = true;
    this.pending.clear();
  }

  get size(): number {
    return this.cache.size;
  }

  /** Reads accounts from the database, two queries for any number (a seam for tests of the cache). */
  protected async load(accountIds: string[]): Promise<Map<string, AccountAllowances>> {
    return loadAccountAllowances(
      this.orm.em.fork(),
      accountIds,
      this.catalog,
      this.provisioner,
      this.clock.now(),
    );
  }

  private remember(accountId: string, value: AccountAllowances): void {
    if (!this.listening) return;
    if (this.cache.size >= this.settings.maxEntries) {
      // Maps iterate in insertion order: the first key is the entry loaded longest ago.
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(accountId, { value, expiresAt: Date.now() + this.settings.ttlMs });
  }
}
