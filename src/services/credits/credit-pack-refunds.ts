import type { LockedAccount } from './credit-account';
import type { CreditSource } from './credit-ledger.types';

/** What a refund of a pack's invoice did to its credits. */
export interface PackRefundResult {
  /** Credits removed by this call (0 when an earlier call removed them already). */
  removed: number;
  /** What had been spent of the pack when the refund came: never taken back. */
  spent: number;
}

/**
 * Removes, under the account's lock, what a refund takes from a pack's lot: `target` credits in all refunds of it
 * (earlier `refund` entries of the lot count), never more than is left. Answers null when the pack was never
 * granted (nothing to take back; the reconciler grants a paid invoice, a refunded one has nothing to grant).
 */
export async function removeRefundedShare(
  account: LockedAccount,
  source: CreditSource,
  target: number,
  amountRefunded: number,
  currency: string,
): Promise<PackRefundResult | null> {
  const [lot] = await account.sql<{ id: string; credits: string; remaining: string }>(
    'select id, credits, remaining from credit_lot where account_id = ? and source_type = ? and source_id = ?',
    [account.accountId, source.type, source.id],
  );
  if (!lot) return null;
  const [removedBefore] = await account.sql<{ removed: string }>(
    `select coalesce(-sum(credits), 0) as removed from credit_ledger_entry
      where account_id = ? and lot_id = ? and kind = 'refund'`,
    [account.accountId, lot.id],
  );
  const remaining = Number(lot.remaining);
  const removed = Math.min(remaining, Math.max(0, target - Number(removedBefore?.removed ?? 0)));
  if (removed > 0) {
    await account.sql('update credit_lot set remaining = remaining - ?, updated_at = ? where id = ?', [
      removed,
      account.now,
      lot.id,
    ]);
    account.record({
      kind: 'refund',
      credits: -removed,
      uncovered: 0,
      lotId: lot.id,
      reason: `Refunded (${amountRefunded} ${currency.toUpperCase()} minor units so far): unspent credits removed`,
      source,
      actor: 'stripe',
    });
  }
  const [spent] = await account.sql<{ spent: string }>(
    `select coalesce(-sum(credits), 0) as spent from credit_ledger_entry
      where account_id = ? and lot_id = ? and kind in ('burn', 'adjustment')`,
    [account.accountId, lot.id],
  );
  return { removed, spent: Number(spent?.spent ?? 0) };
}
