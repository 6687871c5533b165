import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuthenticatedCaller, Caller } from '../auth/caller';
import type { Orm } from '../database/database';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { AccountReads } from '../services/accounts/account-reads';
import type { AccountProfile } from '../services/accounts/customer-manager';
import { type Logger, silentLogger } from '../logging/logger';
import { Loaders } from './loaders';
import { type UsageReading, UsageLoaders } from './usage-loaders';

/** What a request reads through its loaders: accounts' rows, and their allowances and usage. */
export interface RequestReads {
  accounts: AccountReads;
  usage: UsageReading;
}

/**
 * What every resolver receives for one operation. The EntityManager and the loaders are made on first use:
 * an operation that touches no data (`{ __typename }`, a health probe) costs no fork and no loader.
 */
export class RequestContext {
  private forkedEm?: EntityManager;
  private requestLoaders?: Loaders;
  private requestUsageLoaders?: UsageLoaders;

  constructor(
    readonly caller: Caller,
    readonly requestId: string,
    private readonly orm: Orm,
    private readonly reads: RequestReads,
    /** Makes the request's logger (made on first use: a child logger costs a redaction pass to build). */
    private readonly makeLog: () => Logger = () => silentLogger,
  ) {}

  private requestLog?: Logger;

  /** The request's logger: its lines carry the request id and the caller's account. */
  get log(): Logger {
    this.requestLog ??= this.makeLog();
    return this.requestLog;
  }

  get em(): EntityManager {
    this.forkedEm ??= this.orm.em.fork();
    return this.forkedEm;
  }

  get loaders(): Loaders {
    this.requestLoaders ??= new Loaders(this.reads.accounts, () => this.em);
    return this.requestLoaders;
  }

  /** Loaders of allowances (from the feature gate's cache) and usage counters (from the Redis copies). */
  get usageLoaders(): UsageLoaders {
    this.requestUsageLoaders ??= new UsageLoaders(this.reads.usage);
    return this.requestUsageLoaders;
  }

  /**
   * A subscription keeps one context for all its events; each event must read fresh data, not what the
   * previous event's loaders cached. Called at the start of every event.
   */
  startNextEvent(): void {
    this.forkedEm = undefined;
    this.requestLoaders = undefined;
    this.requestUsageLoaders = undefined;
  }

  /** The signed-in caller, or UNAUTHENTICATED. */
  requireCaller(): AuthenticatedCaller {
    if (this.caller.kind !== 'authenticated') throw new UnauthenticatedError();
    return this.caller;
  }

  /** The caller may act on `accountId`: its own account, or any account for the admin and service roles. */
  requireAccountAccess(accountId: string): AuthenticatedCaller {
    const caller = this.requireCaller();
    if (caller.accountId === accountId || caller.roles.has('admin') || caller.roles.has('service'))
      return caller;
    throw new ForbiddenError();
  }

  /** What billing knows of the caller's user, for creating or syncing its Stripe customer. */
  profileOf(accountId: string): AccountProfile {
    const caller = this.requireCaller();
    return { accountId, email: caller.accountId === accountId ? caller.email : null };
  }

  get isAdmin(): boolean {
    return this.caller.kind === 'authenticated' && this.caller.roles.has('admin');
  }

  requireRole(...roles: Array<'admin' | 'service'>): AuthenticatedCaller {
    const caller = this.requireCaller();
    if (roles.some((role) => caller.roles.has(role))) return caller;
    throw new ForbiddenError(`This needs the ${roles.join(' or ')} role`);
  }
}
