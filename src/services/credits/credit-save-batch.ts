import type { BareStatement, BareValue } from '../../database/bare-transaction';
import {
  entryColumns,
  lotTakesStatement,
  type LockedAccount,
  type PendingSave,
  type SavedRow,
  type Sql,
} from './credit-account';
import { EXPIRING_SOON_DAYS } from './credit-reads';

const DAY_MS = 86_400_000;

/**
 * A group's last saves as ONE statement over arrays (ADR 0029), whatever the number of accounts: the new holds,
 * the settled holds, the members' months, the entries (in order: their ids follow it), the balance rows, and each
 * account's soonest expiring credits (for `balanceUpdated`). The same text every time, so it is prepared once per
 * connection. Each account writes what its own `save` would have (`LockedAccount.pendingSave`).
 */
const SAVE_MANY = `
  with hold_inserts as (
    insert into credit_hold (id, created_at, updated_at, account_id, member_id, credits, expires_at, state, model,
                             priced_at, overage_credits, overage_price, overage_currency, max_output_tokens)
    select h.id, ?, ?, h.account_id, h.member_id, h.credits, h.expires_at, 'held', h.model, h.priced_at,
           h.overage_credits, h.overage_price, h.overage_currency, h.max_output_tokens
      from unnest(?::uuid[], ?::varchar[], ?::varchar[], ?::bigint[], ?::timestamptz[], ?::varchar[],
                  ?::timestamptz[], ?::bigint[], ?::varchar[], ?::varchar[], ?::bigint[])
        as h(id, account_id, member_id, credits, expires_at, model, priced_at, overage_credits, overage_price,
             overage_currency, max_output_tokens)),
  hold_settles as (
    update credit_hold hold set state = 'settled', settled_credits = s.credits, updated_at = ?
      from unnest(?::uuid[], ?::bigint[]) as s(id, credits)
     where hold.id = s.id),
  member_uses as (
    insert into credit_member_period (account_id, member_id, period_start, burned, updated_at)
    select m.account_id, m.member_id, m.period_start, m.burned, ?
      from unnest(?::varchar[], ?::varchar[], ?::timestamptz[], ?::bigint[])
        as m(account_id, member_id, period_start, burned)
    on conflict (account_id, member_id, period_start)
    do update set burned = credit_member_period.burned + excluded.burned, updated_at = excluded.updated_at),
  entries as (
    insert into credit_ledger_entry
      (account_id, kind, credits, balance_after, uncovered, billed, lot_id, reason, source_type, source_id, actor,
       created_at)
    select e.account_id, e.kind, e.credits, e.balance_after, e.uncovered, e.billed, e.lot_id, e.reason,
           e.source_type, e.source_id, e.actor, ?
      from unnest(?::varchar[], ?::varchar[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::uuid[],
                  ?::text[], ?::varchar[], ?::varchar[], ?::varchar[]) with ordinality
        as e(account_id, kind, credits, balance_after, uncovered, billed, lot_id, reason, source_type, source_id,
             actor, n)
     order by e.n),
  balances as (
    update credit_balance balance
       set balance = v.balance, held = v.held, overage_held = v.overage_held, next_expiry_at = v.next_expiry_at,
           updated_at = ?
      from unnest(?::varchar[], ?::bigint[], ?::bigint[], ?::bigint[], ?::timestamptz[])
        as v(account_id, balance, held, overage_held, next_expiry_at)
     where balance.account_id = v.account_id)
  select a.account_id, soonest.expires_at, soonest.credits
    from unnest(?::varchar[]) as a(account_id)
    left join lateral (
      select expires_at, sum(remaining) as credits from credit_lot
       where account_id = a.account_id and remaining > 0 and expires_at > ? and expires_at <= ?
       group by expires_at order by expires_at limit 1) soonest on true`;

/** The columns of `rows` (arrays of equal length), one array each: what `unnest` takes. */
function columns(rows: ReadonlyArray<readonly unknown[]>, count: number): unknown[][] {
  return Array.from({ length: count }, (_, index) => rows.map((row) => row[index] ?? null));
}

function paramsOf(pending: PendingSave[], now: Date): unknown[] {
  const writes = pending.flatMap((save) => save.writes);
  const rowsOf = (kind: string) => writes.flatMap((write) => (write.kind === kind ? [write.row] : []));
  const entries = pending.flatMap((save) => save.entries.map((entry) => entryColumns(save.accountId, entry)));
  const balances = pending.map((save) => [
    save.accountId,
    save.balance,
    save.held,
    save.overageHeld,
    save.nextExpiry,
  ]);
  const soon = new Date(now.getTime() + EXPIRING_SOON_DAYS * DAY_MS);
  return [
    ...[now, now, ...columns(rowsOf('hold_insert'), 11)],
    ...[now, ...columns(rowsOf('hold_settle'), 2)],
    ...[now, ...columns(rowsOf('member_use'), 4)],
    ...[now, ...columns(entries, 11)],
    ...[now, ...columns(balances, 5)],
    ...[pending.map((save) => save.accountId), now, soon],
  ];
}

/**
 * Saves the group's accounts that wait for it: in one statement when two or more do, else the one account's own
 * `save`. Both write the same deferred writes (deferred-writes.ts), the first over arrays, the second one by one.
 */
export async function saveAccounts(sql: Sql, accounts: Iterable<LockedAccount>, now: Date): Promise<void> {
  const statement = savingStatement(accounts, now);
  if (!statement) return;
  for (const preceding of statement.preceding ?? []) await sql(preceding.text, preceding.values);
  statement.read(await sql<object>(statement.text, statement.values));
}

/**
 * The group's last saves as one statement for a group below the ORM to send with its COMMIT in one round trip
 * (credit-groups.ts, issue 17): what `saveAccounts` would send (SAVE_MANY, or one account's own `save`); `read`
 * takes its rows. Null when no account waits.
 */
export function savingStatement(accounts: Iterable<LockedAccount>, now: Date): SavingStatement | null {
  const waiting = [...accounts].filter((account) => account.unsaved);
  const [only] = waiting;
  if (!only) return null;
  // The burns decided from lots read ahead go first, in the same round trip: the save reads the lots left.
  const taking = lotTakesStatement(waiting, now);
  const preceding = taking ? [taking] : [];
  const lotTakesWritten = () => {
    for (const account of waiting) account.lotTakesWritten();
  };
  if (waiting.length === 1) {
    // One account (most groups): its own `save`'s statement, simpler for PostgreSQL than the one over arrays.
    const statement = only.saveStatement();
    return {
      preceding,
      text: statement.text,
      values: statement.params as BareValue[],
      read: (rows) => {
        lotTakesWritten();
        only.savedFrom((rows as SavedRow[])[0]);
      },
    };
  }
  const pending = waiting.map((account) => account.pendingSave());
  return {
    preceding,
    text: SAVE_MANY,
    values: paramsOf(pending, now) as BareValue[],
    read: (rows) => {
      lotTakesWritten();
      savedAll(waiting, rows as SoonestRow[]);
    },
  };
}

/** The group's last saves, after the statements that must run first (the lots' burns), and how to read its rows. */
export type SavingStatement = BareStatement & {
  preceding?: readonly BareStatement[];
  read: (rows: object[]) => void;
};

interface SoonestRow {
  account_id: string;
  expires_at: Date | null;
  credits: string | null;
}

function savedAll(waiting: readonly LockedAccount[], rows: readonly SoonestRow[]): void {
  const soonest = new Map(rows.map((row) => [row.account_id, row]));
  for (const account of waiting) {
    const row = soonest.get(account.accountId);
    account.savedWith(
      row?.expires_at ? { credits: Number(row.credits), at: new Date(row.expires_at) } : null,
    );
  }
}
