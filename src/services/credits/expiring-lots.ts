import type { PreparedSql } from '../../database/prepared-transaction';
import type { CreditSource } from './credit-ledger.types';

/**
 * What of a locked account (credit-account.ts `LockedAccount`) expiring needs: named here, not imported, since
 * the account's lock calls this module.
 */
export interface ExpiringAccount {
  readonly sql: PreparedSql;
  readonly accountId: string;
  readonly now: Date;
  readonly expiryDue: boolean;
  record(entry: {
    kind: 'expiry';
    credits: number;
    uncovered: number;
    lotId: string;
    reason: string;
    source: CreditSource;
    actor: string;
  }): void;
  save(): Promise<unknown>;
}

/**
 * A lot past its expiry with credits left, and the covered credits of the live holds made before it expired
 * (`claimed`): the work they reserved for was admitted while the lot was live (docs/credits.md "Held credits at
 * an expiry").
 */
export interface DueLot {
  remaining: number;
  claimed: number;
}

/**
 * `claimed` of the lot `lot` in SQL: the covered credits of its account's holds live at `?` (the clock reading)
 * and made before the lot expired. The lock's expiry (below) and the balance read (credit-reads.ts) both use it.
 */
export const CLAIMED_BY_HOLDS = `(select coalesce(sum(hold.credits - hold.overage_credits), 0) from credit_hold hold
   where hold.account_id = lot.account_id and hold.state = 'held' and hold.expires_at > ?
     and hold.created_at < lot.expires_at)`;

/**
 * What each due lot (in expiry order) keeps for the live holds made before it expired: up to what those holds
 * cover, less what the lots before it keep for them (a hold made before an earlier expiry was made before a later
 * one too). The rest expires now; what is kept is burned first by their settles and expires when they are done.
 */
export function keptForHolds(due: readonly DueLot[]): number[] {
  let kept = 0;
  return due.map((lot) => {
    const keep = Math.min(lot.remaining, Math.max(0, lot.claimed - kept));
    kept += keep;
    return keep;
  });
}

/** The account's lots past their expiry with credits left, in expiry order, with their holds' claims. */
const DUE_LOTS = `
  select lot.id, lot.remaining, lot.source_type, lot.source_id, ${CLAIMED_BY_HOLDS} as claimed
    from credit_lot lot
   where lot.account_id = ? and lot.remaining > 0 and lot.expires_at <= ?
   order by lot.expires_at, lot.created_at, lot.id`;

/**
 * Lots past their expiry lose what live holds made before the expiry do not keep (an `expiry` entry each). Run
 * under the account's lock after the holds past their time were dropped (only live holds claim).
 */
export async function expireDueLots(account: ExpiringAccount): Promise<void> {
  const { sql, accountId, now } = account;
  const rows = await sql<{
    id: string;
    remaining: string;
    source_type: string;
    source_id: string;
    claimed: string;
  }>(DUE_LOTS, [now, accountId, now]);
  if (rows.length === 0) return;
  const kept = keptForHolds(
    rows.map((row) => ({ remaining: Number(row.remaining), claimed: Number(row.claimed) })),
  );
  const expiring = rows
    .map((row, index) => ({ row, expired: Number(row.remaining) - (kept[index] ?? 0) }))
    .filter(({ expired }) => expired > 0);
  if (expiring.length === 0) return;
  await sql(
    `update credit_lot lot set remaining = lot.remaining - due.expired, updated_at = ?
       from unnest(?::uuid[], ?::bigint[]) as due(id, expired)
      where lot.id = due.id and lot.account_id = ?`,
    [now, expiring.map(({ row }) => row.id), expiring.map(({ expired }) => expired), accountId],
  );
  for (const { row, expired } of expiring)
    account.record({
      kind: 'expiry',
      credits: -expired,
      uncovered: 0,
      lotId: row.id,
      reason: 'Expired unspent',
      source: { type: row.source_type, id: row.source_id },
      actor: 'system',
    });
}

/**
 * After a hold was settled or released: what lots past their expiry kept for it and it did not burn expires now,
 * before a later request of the same group could take it as available. Only when something is due (rare).
 */
export async function expireWhatHoldsLeft(account: ExpiringAccount): Promise<void> {
  if (!account.expiryDue) return;
  // The hold's new state is written first: the claims are read from the rows.
  await account.save();
  await expireDueLots(account);
}
