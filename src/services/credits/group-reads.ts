import type { PreparedSql } from '../../database/prepared-transaction';
import { HOLD_COLUMNS, type HoldRow } from './hold-row';

/** What a grouped request will look up, named before its group runs: its hold's id, and a new hold's member. */
export interface ReadsAhead {
  holdId?: string;
  /** The member a new hold is for (null or left out: none). */
  memberId?: string | null;
  /** The work may burn the account's lots (a settle, a burn): they are read ahead too. */
  burns?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The most live lots read ahead for one account: an account with more burns through its own statement
 * (credit-burning.ts), as outside a group. Accounts hold a few (the plan's included credits, packs, grants).
 */
export const LOTS_AHEAD = 16;

/**
 * The holds by id, the limits of (account, member) pairs, and the live lots (up to LOTS_AHEAD + 1 each, in the
 * burn order: credit-burning.ts LOTS_IN_BURN_ORDER's order) of the accounts whose lots may be burned, that a
 * group's requests name.
 */
const READ_AHEAD = `select (select json_agg(hold) from (select ${HOLD_COLUMNS} from credit_hold where id = any(?::uuid[])) hold)
         as holds,
       (select json_agg(json_build_object('a', account_id, 'm', member_id)) from credit_member_limit
         where (account_id, member_id) in (select * from unnest(?::varchar[], ?::varchar[]))) as limited,
       (select json_agg(json_build_object('a', account_id, 'id', id, 'r', remaining) order by account_id, rank)
          from (select account_id, id, remaining,
                       row_number() over (
                         partition by account_id
                         order by (kind = 'included') desc, expires_at asc nulls last, created_at, id) as rank
                  from credit_lot
                 where account_id = any(?::varchar[]) and remaining > 0 and (expires_at is null or expires_at > ?)) lot
         where rank <= ${LOTS_AHEAD + 1}) as lots`;

/** A row of READ_AHEAD (one). */
export interface ReadsRow {
  holds: HoldRow[] | null;
  limited: Array<{ a: string; m: string }> | null;
  /** Lots in the burn order per account (`r`: remaining; bigints as JSON numbers). */
  lots: Array<{ a: string; id: string; r: number | string }> | null;
}

/** A live lot read ahead: what is left of it, in the burn order. */
export interface LotAhead {
  id: string;
  remaining: number;
}

/** The valid hold ids (lower case, once each) and the members of new holds that `requests` name. */
function namedBy(requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>): {
  holdIds: string[];
  pairs: Array<{ accountId: string; memberId: string }>;
  /** Accounts whose lots a request may burn (a settle, a burn). */
  burning: string[];
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
  const burning = [...new Set(requests.flatMap(({ accountId, reads }) => (reads?.burns ? [accountId] : [])))];
  return { holdIds, pairs, burning };
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
  /** The live lots of the accounts a settle names, in the burn order, when all of them were read. */
  private readonly lots = new Map<string, LotAhead[]>();

  static async read(
    sql: PreparedSql,
    requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>,
    now: Date,
  ): Promise<GroupReads> {
    const statement = GroupReads.statementOf(requests, now);
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
    /** The group's clock reading: lots expiring at or before it are not live (the lock dropped them). */
    now: Date,
  ): { text: string; values: [string[], string[], string[], string[], Date] } | null {
    const { holdIds, pairs, burning } = namedBy(requests);
    if (holdIds.length === 0 && pairs.length === 0 && burning.length === 0) return null;
    return {
      text: READ_AHEAD,
      values: [
        holdIds,
        pairs.map((pair) => pair.accountId),
        pairs.map((pair) => pair.memberId),
        burning,
        now,
      ],
    };
  }

  /** What `statementOf`'s statement answered for `requests`. */
  static of(
    requests: ReadonlyArray<{ accountId: string; reads?: ReadsAhead }>,
    rows: readonly ReadsRow[],
  ): GroupReads {
    const reads = new GroupReads();
    const { holdIds, pairs, burning } = namedBy(requests);
    const [row] = rows;
    for (const id of holdIds) reads.holds.set(id, null);
    for (const hold of row?.holds ?? []) reads.holds.set(hold.id, hold);
    for (const pair of pairs) reads.members.add(memberKey(pair.accountId, pair.memberId));
    for (const pair of row?.limited ?? []) reads.limited.add(memberKey(pair.a, pair.m));
    for (const accountId of burning) reads.lots.set(accountId, []);
    for (const lot of row?.lots ?? []) reads.lots.get(lot.a)?.push({ id: lot.id, remaining: Number(lot.r) });
    // More than LOTS_AHEAD: not all were read, so that account burns through its own statement.
    for (const [accountId, lots] of reads.lots) if (lots.length > LOTS_AHEAD) reads.lots.delete(accountId);
    return reads;
  }

  /**
   * All the account's live lots as the group's lock found them, in the burn order (undefined: not read ahead, or
   * more than LOTS_AHEAD). Handed once to the account (`LockedAccount.lotsAhead`), which keeps them from then on.
   */
  lotsOf(accountId: string): LotAhead[] | undefined {
    return this.lots.get(accountId);
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
