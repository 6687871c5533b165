import type { Orm } from '../../database/database';
import type { CreditEntryKind, CreditLotKind } from '../../entities';
import { CLAIMED_BY_HOLDS, keptForHolds } from './expiring-lots';
import type {
  CreditBalanceView,
  CreditEntryPage,
  CreditEntryView,
  CreditLotView,
} from './credit-ledger.types';

/** How far ahead `expiringSoon` looks. */
export const EXPIRING_SOON_DAYS = 7;
const DAY_MS = 86_400_000;

export interface LotRow {
  id: string;
  account_id: string;
  kind: CreditLotKind;
  credits: string;
  remaining: string;
  expires_at: Date | null;
  source_type: string;
  source_id: string;
  created_at: Date;
}

/** LotRow's columns, named (a prepared `select *` fails once a migration adds a column: prepared-transaction.ts). */
export const LOT_COLUMNS =
  'id, account_id, kind, credits, remaining, expires_at, source_type, source_id, created_at';

export function lotOf(row: LotRow): CreditLotView {
  return {
    id: row.id,
    accountId: row.account_id,
    kind: row.kind,
    credits: Number(row.credits),
    remaining: Number(row.remaining),
    expiresAt: row.expires_at ? new Date(row.expires_at) : null,
    source: { type: row.source_type, id: row.source_id },
    createdAt: new Date(row.created_at),
  };
}

interface StaleLot {
  remaining: number | string;
  claimed: number | string;
}

interface BalanceRow {
  balance: string | null;
  held: string | null;
  stale_held: string;
  /** Lots past their expiry not dropped yet, in expiry order, with their live holds' claims (JSON). */
  stale_lots: StaleLot[] | null;
  expiring_at: Date | null;
  expiring_credits: string | null;
}

interface EntryRow {
  id: string;
  account_id: string;
  kind: CreditEntryKind;
  credits: string;
  balance_after: string;
  uncovered: string;
  billed: string;
  lot_id: string | null;
  reason: string;
  source_type: string;
  source_id: string;
  actor: string;
  created_at: Date;
}

/**
 * Reads without locks. The balance is the row's, less what holds past their time (not yet dropped by a write)
 * still count, and what is left of lots past their expiry (not yet dropped either).
 */
export async function readBalance(orm: Orm, accountId: string, now: Date): Promise<CreditBalanceView> {
  const soon = new Date(now.getTime() + EXPIRING_SOON_DAYS * DAY_MS);
  const [row] = await orm.em.getConnection().execute<BalanceRow[]>(
    `select b.balance, b.held,
            (select coalesce(sum(credits - overage_credits), 0) from credit_hold
              where account_id = ? and state = 'held' and expires_at <= ?) as stale_held,
            (select json_agg(json_build_object('remaining', lot.remaining, 'claimed', ${CLAIMED_BY_HOLDS})
                      order by lot.expires_at, lot.created_at, lot.id)
               from credit_lot lot
              where lot.account_id = ? and lot.remaining > 0 and lot.expires_at <= ?) as stale_lots,
            soonest.expires_at as expiring_at, soonest.credits as expiring_credits
       from (select ?::varchar as account_id) wanted
       left join credit_balance b on b.account_id = wanted.account_id
       left join lateral (
         select expires_at, sum(remaining) as credits from credit_lot
          where account_id = wanted.account_id and remaining > 0 and expires_at > ? and expires_at <= ?
          group by expires_at order by expires_at limit 1) soonest on true`,
    [accountId, now, now, accountId, now, accountId, now, soon],
  );
  const balance = Math.max(0, Number(row?.balance ?? 0) - expiredOf(row?.stale_lots ?? null));
  const held = Math.max(0, Number(row?.held ?? 0) - Number(row?.stale_held ?? 0));
  return {
    balance,
    held,
    available: Math.max(0, balance - held),
    expiringSoon: row?.expiring_at
      ? { credits: Number(row.expiring_credits), at: new Date(row.expiring_at) }
      : null,
  };
}

/** What lots past their expiry lose at the next change: all but what live holds keep (expiring-lots.ts). */
function expiredOf(stale: StaleLot[] | null): number {
  if (!stale) return 0;
  const due = stale.map((lot) => ({
    remaining: Number(lot.remaining),
    claimed: Number(lot.claimed),
  }));
  const kept = keptForHolds(due);
  return due.reduce((sum, lot, index) => sum + lot.remaining - (kept[index] ?? 0), 0);
}

/** The account's entries newest first, `first` of them after the entry `afterId` (keyset: by id). */
export async function readEntries(
  orm: Orm,
  accountId: string,
  first: number,
  afterId: number | null,
): Promise<CreditEntryPage> {
  const rows = await orm.em.getConnection().execute<EntryRow[]>(
    `select * from credit_ledger_entry
      where account_id = ? and (?::bigint is null or id < ?::bigint)
      order by id desc limit ?`,
    [accountId, afterId, afterId, first + 1],
  );
  return { entries: rows.slice(0, first).map(entryOf), hasNextPage: rows.length > first };
}

function entryOf(row: EntryRow): CreditEntryView {
  return {
    id: Number(row.id),
    accountId: row.account_id,
    kind: row.kind,
    credits: Number(row.credits),
    balanceAfter: Number(row.balance_after),
    uncovered: Number(row.uncovered),
    billed: Number(row.billed),
    lotId: row.lot_id,
    reason: row.reason,
    source: { type: row.source_type, id: row.source_id },
    actor: row.actor,
    createdAt: new Date(row.created_at),
  };
}
