import type { PreparedSql } from '../../database/prepared-transaction';
import { HOLD_COLUMNS, type HoldRow } from './hold-row';

/** What a grouped request will look up, named before its group runs: its hold's id, and a new hold's member. */
export interface ReadsAhead {
  holdId?: string;
  /** The member a new hold is for (null or left out: none). */
  memberId?: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The holds by id and the limits of (account, member) pairs that a group's requests name. */
const READ_AHEAD = `select (select json_agg(hold) from (select ${HOLD_COLUMNS} from credit_hold where id = any(?::uuid[])) hold)
         as holds,
       (select json_agg(json_build_object('a', account_id, 'm', member_id)) from credit_member_limit
         where (account_id, member_id) in (select * from unnest(?::varchar[], ?::varchar[]))) as limited`;

/** A row of READ_AHEAD (one). */
export interface ReadsRow {
  holds: HoldRow[] | null;
  limited: Array<{ a: string; m: string }> | null;
}

/** The valid hold ids (lower case, once each) and the members of new holds that `requests` name. */
function namedBy(requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>): {
  holdIds: string[];
  pairs: Array<{ accountId: string; memberId: string }>;
} {
  const holdIds = [
    ...new Set(
      requests.flatMap(({ reads }) =>
        reads?.holdId && UUID.test(reads.holdId) ? [reads.holdId.toLowerCase()] : [],
      ),
    ),
  ];
  const pairs = requests.flatMap(({ accountId, reads }) =>
    reads?.memberId ? [{ accountId, memberId: reads.memberId }] : [],
  );
  return { holdIds, pairs };
}

/**
 * The holds a credit group's requests name and whether their members have a limit, read in ONE statement after
 * the group's lock (credit-groups.ts, ADR 0029) instead of one statement per request: every statement of a group
 * is a round trip its other requests wait behind. Valid under the lock: holds change only under their account's
 * lock, so only the group's own requests change them, and a hold one of them wrote is forgotten here
 * (`holdChanged`: the next look-up reads the row). A member with a limit is read in full by the request itself
 * (its limit row locked, its month's spend), as before; one without is known to have none.
 */
export class GroupReads {
  /** Holds by id (PostgreSQL's lower-case form) as the group's lock found them; null: no hold has the id. */
  private readonly holds = new Map<string, HoldRow | null>();
  /** Account and member pairs looked up, and those with a limit row. */
  private readonly members = new Set<string>();
  private readonly limited = new Set<string>();

  static async read(
    sql: PreparedSql,
    requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>,
  ): Promise<GroupReads> {
    const statement = GroupReads.statementOf(requests);
    if (!statement) return new GroupReads();
    return GroupReads.of(requests, await sql<ReadsRow>(statement.text, statement.values));
  }

  /**
   * The one statement that reads what `requests` name (null: nothing to read), for a group that sends it itself
   * (below the ORM, with its `BEGIN` and lock: credit-groups.ts); `of` takes its rows. Everything it reads is
   * named by the requests, so it is known before the lock.
   */
  static statementOf(
    requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>,
  ): { text: string; values: [string[], string[], string[]] } | null {
    const { holdIds, pairs } = namedBy(requests);
    if (holdIds.length === 0 && pairs.length === 0) return null;
    return {
      text: READ_AHEAD,
      values: [holdIds, pairs.map((pair) => pair.accountId), pairs.map((pair) => pair.memberId)],
    };
  }

  /** What `statementOf`'s statement answered for `requests`. */
  static of(
    requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>,
    rows: readonly ReadsRow[],
  ): GroupReads {
    const reads = new GroupReads();
    const { holdIds, pairs } = namedBy(requests);
    const [row] = rows;
    for (const id of holdIds) reads.holds.set(id, null);
    for (const hold of row?.holds ?? []) reads.holds.set(hold.id, hold);
    for (const pair of pairs) reads.members.add(memberKey(pair.accountId, pair.memberId));
    for (const pair of row?.limited ?? []) reads.limited.add(memberKey(pair.a, pair.m));
    return reads;
  }

  /** The hold as read ahead (null: none has the id); undefined when not read ahead or changed since: read it. */
  hold(holdId: string): HoldRow | null | undefined {
    return this.holds.get(holdId.toLowerCase());
  }

  /** The group wrote the hold (or is about to): later look-ups read the row. */
  holdChanged(holdId: string): void {
    this.holds.delete(holdId.toLowerCase());
  }

  /** True when the member was looked up ahead and has no limit (false: unknown, or limited). */
  memberUnlimited(accountId: string, memberId: string): boolean {
    const key = memberKey(accountId, memberId);
    return this.members.has(key) && !this.limited.has(key);
  }
}

function memberKey(accountId: string, memberId: string): string {
  return `${accountId}\n${memberId}`;
}
