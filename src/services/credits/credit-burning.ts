import type { CreditEntryKind } from '../../entities';
import type { LockedAccount } from './credit-account';
import type { CreditSource } from './credit-ledger.types';

/**
 * The burn order (docs/credits.md): a plan's included credits first, then the soonest to expire, then those that
 * never expire (purchased packs), oldest first. Only as many lots as cover `credits` are read: a running sum.
 * Each lot is answered with what it gives and what the lots before it gave (`before`: the order).
 * A hold's settle also takes, before all others, what lots that expired after the hold was made kept for it
 * (expiring-lots.ts): live lots are those expiring after `since` (the hold's making; else now), and those past
 * their expiry (`expires_at <= now`) come first. Outside a settle no lot past its expiry is taken.
 */
const LOTS_IN_BURN_ORDER = `
  select id, take, before from (
    select id, least(remaining, ? - before) as take, before from (
      select id, remaining,
             coalesce(sum(remaining) over (
               order by coalesce(expires_at <= ?, false) desc, (kind = 'included') desc, expires_at asc nulls last,
                        created_at, id
               rows between unbounded preceding and 1 preceding), 0) as before
        from credit_lot
       where account_id = ? and remaining > 0 and (expires_at is null or expires_at > ?)) ordered
     where before < ?) taken`;

export interface Taking {
  kind: CreditEntryKind;
  reason: string;
  source: CreditSource;
  actor: string;
}

/**
 * Takes up to `credits` from the account's lots in the burn order, never more than its available credits (what
 * holds keep is not taken), one entry per lot. Answers what was taken; the caller decides about the rest.
 */
export async function takeFromLots(
  account: LockedAccount,
  credits: number,
  taking: Taking,
  /** A settle's hold was made then: what lots that expired since kept for it is taken first. */
  heldSince?: Date,
): Promise<number> {
  const wanted = Math.min(credits, account.available);
  if (wanted <= 0) return 0;
  // In a group whose lock read the account's lots ahead: chosen in memory, written with the group's last saves.
  const ahead = account.takeFromLotsAhead(wanted);
  if (ahead) return recordTakes(account, ahead, taking);
  // Chosen and taken in one statement (the lots cannot change otherwise: every change holds the account's lock).
  const taken = await account.sql<{ id: string; take: string; before: string }>(
    `with taking as (${LOTS_IN_BURN_ORDER})
     update credit_lot lot set remaining = lot.remaining - taking.take, updated_at = ?
       from taking
      where lot.id = taking.id and lot.account_id = ? and taking.take > 0
     returning lot.id, taking.take, taking.before`,
    [
      wanted,
      account.now,
      account.accountId,
      since(heldSince, account.now),
      wanted,
      account.now,
      account.accountId,
    ],
  );
  const takes = taken
    .map((lot) => ({ id: lot.id, take: Number(lot.take), before: Number(lot.before) }))
    .sort((a, b) => a.before - b.before);
  return recordTakes(account, takes, taking);
}

/** One entry per lot taken from, in the burn order; answers what they took together. */
function recordTakes(
  account: LockedAccount,
  takes: ReadonlyArray<{ id: string; take: number }>,
  taking: Taking,
): number {
  for (const lot of takes) account.record({ ...taking, credits: -lot.take, uncovered: 0, lotId: lot.id });
  return takes.reduce((sum, lot) => sum + lot.take, 0);
}

/** The moment after which a lot counts as live for this burn: a settle's hold's making, never later than now. */
function since(heldSince: Date | undefined, now: Date): Date {
  return heldSince && heldSince.getTime() < now.getTime() ? heldSince : now;
}
