import type { Orm } from '../../database/database';
import { GroupCommitter, type Settled } from '../../database/group-committer';
import { inBareTransaction } from '../../database/bare-transaction';
import { inPreparedTransaction } from '../../database/prepared-transaction';
import type { Clock } from '../time/clock';
import {
  BELOW_ORM,
  LOCK,
  type LockedAccount,
  type LockRow,
  lockAccounts,
  NeedsOrm,
  type Sql,
} from './credit-account';
import type { CreditEvents } from './credit-events';
import { saveAccounts, savingStatement } from './credit-save-batch';
import { GroupReads, type ReadsAhead, type ReadsRow } from './group-reads';

/** The most requests one group carries: a bound on how many accounts one transaction holds locked. */
export const MAX_CREDIT_GROUP = 128;

/**
 * Groups in flight at once, each over its own accounts (an account always goes to the same lane; lanes never
 * share an account, so they never wait for each other's locks). Four while a group was six round trips (one lane
 * left the service idle half the time at 50 connections, 2026-12-06); one since a group is two or three below the
 * ORM (ADR 0028, amended 2026-12-07): the requests that arrive while it is in PostgreSQL make the next group
 * larger, and larger groups cost PostgreSQL less per request (1 lane against 2 in one run: 0.41× against 0.38× of
 * the no-op, PostgreSQL 131 against 160 µs a request, p99 at one rate 29 against 35 ms; against 4: 0.36× / 0.28×,
 * 153 / 452 µs, 28 / 55 ms).
 */
export const CREDIT_LANES = 1;

/** One change of an account's credits: `placeHold`, `settleHold`, `releaseHeld` or a burn, as they are. */
export interface GroupedChange {
  accountId: string;
  work: (account: LockedAccount) => Promise<unknown>;
  /** What the work will look up, read for the whole group in one statement after its lock (group-reads.ts). */
  reads?: ReadsAhead;
}

/** A statement that writes (an `insert`, `update … set` or `delete`, alone or in a `with`); a `for update` reads. */
const WRITES = /\b(insert\s+into|delete\s+from|update\s+\w+(\s+\w+)?\s+set)\b/i;

/** A request failed after it wrote: the group's transaction cannot keep the others without a savepoint. */
class FailedAfterWriting extends Error {
  constructor(readonly failure: unknown) {
    super('A grouped credit change failed after it wrote');
  }
}

/**
 * A model call's hold and settle (and releases, burns) as group commits (ADR 0028, after ADR 0019's usage groups):
 * the requests that arrive while a group is in PostgreSQL go together in the next one, one transaction, one
 * fsync. The group locks its accounts in one statement, in the byte order of their ids (groups of any instance
 * cannot deadlock), then runs each request in arrival order on its account, exactly as it would have run alone:
 * the request after another on the same account sees what it wrote (the account is saved between them).
 *
 * One request's failure fails no other. The credit operations decide before they write (a refusal is an answer,
 * and MEMBER_LIMIT_REACHED, a hold id of another account or an unknown reservation are thrown before any write):
 * such a request's changes in memory are forgotten (`LockedAccount.restore`) and the group goes on without it. A
 * request that throws after writing, or a group that fails as a whole (a deadlock on a new account's row, the
 * database away), rolls the group back, and each of its requests then runs in a group of its own. Every caller is
 * answered after its group's COMMIT; `balanceUpdated` (with the low-balance and auto top-up listeners) follows
 * once per account per group, with the figures the group left it at, in order per account but not waited for
 * (`CreditEvents.announce`, ADR 0032).
 */
export class CreditGroups {
  private readonly lanes: Array<GroupCommitter<GroupedChange, unknown>>;
  /** Requests run again in a group of their own after their group was rolled back. */
  private rerun = 0;
  /** Groups run again on the ORM's transaction after a request asked for it below the ORM (`NeedsOrm`). */
  private ormFallbacks = 0;

  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly events: CreditEvents,
    /** Told each group's size (the `billing_usage_group_commit_size{kind="credit"}` metric). */
    onGroup: (size: number) => void = () => undefined,
  ) {
    this.lanes = Array.from(
      { length: CREDIT_LANES },
      () => new GroupCommitter((group) => this.flush(group), MAX_CREDIT_GROUP, onGroup),
    );
  }

  /**
   * Runs `work` on the account in the next group; answers what it answered, after the group's COMMIT. `reads`
   * names the hold (and a new hold's member) it will look up: read ahead with the group's others.
   */
  run<T>(accountId: string, work: (account: LockedAccount) => Promise<T>, reads?: ReadsAhead): Promise<T> {
    const lane = this.lanes[laneOf(accountId)] as GroupCommitter<GroupedChange, unknown>;
    return lane.submit({ accountId, work, ...(reads ? { reads } : {}) }) as Promise<T>;
  }

  /**
   * Groups written and requests answered so far, and how many requests were run again alone after their group
   * was rolled back (the tests' proof of grouping; a `rerun` that grows under load is worth a look).
   */
  stats(): { groups: number; requests: number; rerun: number; ormFallbacks: number } {
    const lanes = this.lanes.map((lane) => lane.stats());
    const groups = lanes.reduce((sum, lane) => sum + lane.groups, 0);
    const requests = lanes.reduce((sum, lane) => sum + lane.requests, 0);
    return { groups, requests, rerun: this.rerun, ormFallbacks: this.ormFallbacks };
  }

  private async flush(group: GroupedChange[]): Promise<Array<Settled<unknown>>> {
    let written: Written;
    try {
      written = await this.write(group);
    } catch (error) {
      if (group.length > 1) return this.oneByOne(group);
      if (error instanceof FailedAfterWriting) return [{ ok: false, error: error.failure }];
      throw error;
    }
    // After the commit: one publish per changed account, with the figures the group left it at, not waited for:
    // the callers' changes are committed, and the lane's next group need not wait for Redis either (ADR 0032).
    for (const account of written.changed)
      this.events.announce(account.accountId, account.figures(), account.autoTopUp, account.lowBalance);
    return written.settled;
  }

  /** Each request of a group that could not commit as one, in a group of its own (in arrival order). */
  private async oneByOne(group: GroupedChange[]): Promise<Array<Settled<unknown>>> {
    const settled: Array<Settled<unknown>> = [];
    this.rerun += group.length;
    for (const request of group) {
      const [own] = await this.flush([request]).catch((error: unknown) => [{ ok: false as const, error }]);
      settled.push(own ?? { ok: false, error: new Error('The credit group gave no answer') });
    }
    return settled;
  }

  /**
   * The group's transaction below the ORM (issue 17, ADR 0028's amendment): `BEGIN`, the lock and the reads ahead
   * go out in one round trip, and the last saves with `COMMIT` in one; when a request needs the ORM (`NeedsOrm`)
   * that attempt is rolled back and the group runs on the ORM's transaction, as before.
   */
  private async write(group: GroupedChange[]): Promise<Written> {
    const now = this.clock.now();
    try {
      return await this.writeBelowOrm(group, now);
    } catch (error) {
      if (!(error instanceof NeedsOrm)) throw error;
      this.ormFallbacks++;
    }
    return inPreparedTransaction(this.orm, async (sql, em) => {
      const wrote = { now: false };
      const tracked = trackingWrites(sql, wrote);
      const ids = accountIdsOf(group);
      const accounts = await lockAccounts(tracked, ids, now, em);
      // The holds and members the requests name, in one statement rather than one per request (ADR 0029).
      const reads = await GroupReads.read(tracked, group, now);
      const settled = await runRequests(group, accounts, reads, wrote);
      // The accounts' last writes, in one statement for all of them (credit-save-batch.ts, ADR 0029).
      await saveAccounts(tracked, accounts.values(), now);
      return { settled, changed: changedOf(accounts) };
    });
  }

  private async writeBelowOrm(group: GroupedChange[], now: Date): Promise<Written> {
    const ids = accountIdsOf(group);
    const readsAhead = GroupReads.statementOf(group, now);
    const openings = [{ text: LOCK, values: [now, ids] }, ...(readsAhead ? [readsAhead] : [])];
    const written = await inBareTransaction<[LockRow[], ReadsRow[]], Written>(
      this.orm,
      openings,
      async ([locked, read], sql) => {
        const wrote = { now: false };
        const tracked = trackingWrites(sql, wrote);
        const accounts = await lockAccounts(tracked, ids, now, BELOW_ORM, {}, locked);
        // Read with the lock, unless the lock changed holds (expired ones dropped) or locked rows it made after
        // the read (an account's first use): then read again, under every lock, as the ORM path reads.
        const reads =
          readsAhead && !lockChangedReads(ids, locked, now)
            ? GroupReads.of(group, read)
            : await GroupReads.read(tracked, group, now);
        const settled = await runRequests(group, accounts, reads, wrote);
        const closing = savingStatement(accounts.values(), now);
        const value = { settled, changed: changedOf(accounts) };
        return { commit: true, value, ...(closing ? { closing } : {}) };
      },
    );
    if (!written) throw new Error('The credit group’s transaction was rolled back');
    return written;
  }
}

interface Written {
  settled: Array<Settled<unknown>>;
  changed: LockedAccount[];
}

function accountIdsOf(group: GroupedChange[]): string[] {
  return [...new Set(group.map((request) => request.accountId))];
}

function changedOf(accounts: Map<string, LockedAccount>): LockedAccount[] {
  return [...accounts.values()].filter((account) => account.changed);
}

/** The statements, noting in `wrote` when one writes (a request's failure after it cannot be undone in memory). */
function trackingWrites(sql: Sql, wrote: { now: boolean }): Sql {
  return (text, params) => {
    if (WRITES.test(text)) wrote.now = true;
    return sql(text, params);
  };
}

/**
 * Whether `lockAccounts` did more than lock the rows LOCK answered: made a missing row (locked after the reads
 * ahead ran) or dropped expired holds (the reads ahead may hold them as live).
 */
function lockChangedReads(ids: readonly string[], locked: readonly LockRow[], now: Date): boolean {
  if (locked.length < ids.length) return true;
  return locked.some((row) => row.next_expiry_at !== null && new Date(row.next_expiry_at) <= now);
}

/** Each request in arrival order on its locked account (the class comment says how a failure is kept apart). */
async function runRequests(
  group: GroupedChange[],
  accounts: Map<string, LockedAccount>,
  reads: GroupReads,
  wrote: { now: boolean },
): Promise<Array<Settled<unknown>>> {
  for (const account of accounts.values()) {
    account.readsAhead = reads;
    account.lotsAhead = reads.lotsOf(account.accountId);
  }
  const settled: Array<Settled<unknown>> = [];
  for (const request of group) {
    const account = accounts.get(request.accountId) as LockedAccount;
    // What the requests before it on this account wrote, saved: it reads the rows, not the memory.
    if (account.unsaved) await account.save();
    wrote.now = false;
    const mark = account.mark();
    try {
      settled.push({ ok: true, value: await request.work(account) });
    } catch (error) {
      if (error instanceof NeedsOrm) throw error;
      if (wrote.now) throw new FailedAfterWriting(error);
      account.restore(mark);
      settled.push({ ok: false, error });
    }
  }
  return settled;
}

/** The account's lane: FNV-1a of its id (stable, so an account's requests stay in order in one lane). */
export function laneOf(accountId: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < accountId.length; index++) {
    hash ^= accountId.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % CREDIT_LANES;
}
