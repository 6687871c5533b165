import { ConflictError } from '../../errors';
import type { LockedAccount } from './credit-account';
import type {
  BurnResult,
  CreditHoldView,
  HoldCredits,
  HoldResult,
  SettleResult,
} from './credit-ledger.types';
import { roomUnderLimit } from './credit-overage';
import { expireWhatHoldsLeft } from './expiring-lots';
import { readHoldInputs } from './hold-inputs';
import { HOLD_COLUMNS, type HoldRow, holdOf } from './hold-row';
import { countMemberUse, enforceMemberLimit } from './member-limits-check';

async function holdById(account: LockedAccount, holdId: string): Promise<HoldRow | undefined> {
  // Read with the group's other holds after its lock (group-reads.ts), unless the group changed it since.
  const known = account.readsAhead?.hold(holdId);
  if (known !== undefined) return known?.account_id === account.accountId ? known : undefined;
  const [row] = await account.sql<HoldRow>(
    `select ${HOLD_COLUMNS} from credit_hold where id = ? and account_id = ?`,
    [holdId, account.accountId],
  );
  return row;
}

/** A new hold when `available` covers it; the same hold again for an id already used by this account. */
export async function placeHold(account: LockedAccount, input: HoldCredits): Promise<HoldResult> {
  // The hold's id used before, and the member's limit and spend: one statement (hold-inputs.ts).
  const { earlier, memberLimit } = await readHoldInputs(account, input.holdId, input.memberId ?? null);
  // Hold ids are the callers' UUIDs: one another account used is a caller's mistake, refused and never shared.
  if (earlier && earlier.account_id !== account.accountId)
    throw new ConflictError(`Hold ${input.holdId} belongs to another account: use a new id`);
  if (earlier) return { ok: true, hold: holdOf(earlier), duplicate: true };
  // The member's monthly limit, under this same lock: throws MEMBER_LIMIT_REACHED (docs/credits.md).
  enforceMemberLimit(memberLimit, input.memberId, input.credits);
  const beyond = await beyondBalance(account, input);
  if (typeof beyond !== 'number') return beyond;
  const expiresAt = new Date(account.now.getTime() + input.ttlSeconds * 1000);
  const hold: CreditHoldView = {
    id: input.holdId,
    accountId: account.accountId,
    memberId: input.memberId ?? null,
    credits: input.credits,
    expiresAt,
    state: 'held',
    model: input.model ?? null,
    pricedAt: input.pricedAt ?? null,
    overageCredits: beyond,
    maxOutputTokens: input.maxOutputTokens ?? null,
  };
  // Written with the balance row, in one statement (nothing in this transaction reads the new hold again).
  account.readsAhead?.holdChanged(hold.id);
  // The hold's columns after its id (deferred-writes.ts: the account's save and the group's batched save).
  const columns = [
    hold.accountId,
    hold.memberId,
    hold.credits,
    hold.expiresAt,
    hold.model,
    hold.pricedAt,
    hold.overageCredits,
    beyond > 0 ? (input.overage?.unitAmountDecimal ?? null) : null,
    beyond > 0 ? (input.overage?.currency ?? null) : null,
    hold.maxOutputTokens,
  ];
  account.writeWithSave({ kind: 'hold_insert', row: [hold.id, ...columns] });
  account.changeHeld(input.credits - beyond);
  account.changeOverageHeld(beyond);
  account.expiring(expiresAt);
  return { ok: true, hold, duplicate: false };
}

/** What to settle: the hold, and what its work used (or how to price it from the live hold, read here). */
export interface SettleInput {
  holdId: string;
  credits: number | ((hold: CreditHoldView) => number);
}

/**
 * How much of a new hold goes beyond the balance: 0 when what is available covers it; on a plan that bills overage
 * the rest, when it fits under the spend limit (credit-overage.ts); else the refusal to answer.
 */
async function beyondBalance(account: LockedAccount, input: HoldCredits): Promise<number | HoldResult> {
  if (account.available >= input.credits) return 0;
  const beyond = input.credits - account.available;
  const room = input.overage ? await roomUnderLimit(account, input.overage) : 0;
  if (input.overage && beyond <= room) return beyond;
  return {
    ok: false,
    reason: input.overage ? 'spend_limit' : 'insufficient_credits',
    available: account.available,
    requested: input.credits,
    overageRoom: room,
    limitCents: account.spend.limitCents,
  };
}

/**
 * Frees a live hold and burns what the work used, which may be more than was held (what is available covers
 * the rest, as far as it goes). A hold past its time is settled the same way: the work was done. Settling again
 * answers the first settle; a released hold burns nothing.
 */
export async function settleHold(
  account: LockedAccount,
  input: SettleInput,
  burn: (credits: number, admitted: AdmittedOverage, heldSince: Date) => Promise<BurnResult>,
): Promise<SettleResult> {
  const hold = await holdById(account, input.holdId);
  if (!hold) return { outcome: 'unknown' };
  if (hold.state === 'released') return { outcome: 'released' };
  if (hold.state === 'settled') return { outcome: 'settled', ...(await settledBefore(account, hold)) };
  const credits = typeof input.credits === 'function' ? input.credits(holdOf(hold)) : input.credits;
  if (hold.state === 'held') freeHold(account, hold);
  // A hold's part beyond the balance was admitted under the limit when it was held: the work it paid for is billed
  // whatever the limit is now (a limit lowered during the call applies to new calls), also when the commit comes
  // after the hold expired (the call ran and its tokens were used: the expiry only gave its room to new calls).
  // Lots that expired after the hold was made may pay for it (expiring-lots.ts): the call was admitted on them.
  const burned = await burn(credits, admittedOf(hold), new Date(hold.created_at));
  // The member's month counts what the work used, overrun included (member-limits-check.ts says why).
  countMemberUse(account, hold.member_id, credits);
  account.readsAhead?.holdChanged(hold.id);
  account.writeWithSave({ kind: 'hold_settle', row: [hold.id, credits] });
  await expireWhatHoldsLeft(account);
  return { outcome: 'settled', ...burned };
}

/** What a hold beyond the balance was admitted: its credits and price, live or expired (a late commit). */
export interface AdmittedOverage {
  credits: number;
  /** The price and currency it was admitted at (null for holds made before they were kept). */
  price: { unitAmountDecimal: string; currency: string } | null;
}

function admittedOf(hold: HoldRow): AdmittedOverage {
  if (hold.state !== 'held' && hold.state !== 'expired') return { credits: 0, price: null };
  const price =
    hold.overage_price && hold.overage_currency
      ? { unitAmountDecimal: hold.overage_price, currency: hold.overage_currency }
      : null;
  return { credits: Number(hold.overage_credits), price };
}

/** A live hold stops counting: its covered part from `held`, the rest from what is kept against the limit. */
function freeHold(account: LockedAccount, hold: HoldRow): void {
  const overage = Number(hold.overage_credits);
  account.changeHeld(overage - Number(hold.credits));
  account.changeOverageHeld(-overage);
}

/**
 * What the first settle of `hold` burned, from its entries. Only those made since the hold (a day's slack for a
 * clock set back): the id of a key's hold is the key's, and once a finished hold is deleted past the retention
 * (credit-hold-retention.ts, after at least 32 days) its key makes a new hold of the same id, whose repeated
 * settle must not answer the old one's burns too.
 */
async function settledBefore(account: LockedAccount, hold: HoldRow): Promise<BurnResult> {
  const [row] = await account.sql<{ burned: string; uncovered: string; billed: string }>(
    `select coalesce(-sum(credits), 0) as burned, coalesce(sum(uncovered), 0) as uncovered,
            coalesce(sum(billed), 0) as billed
       from credit_ledger_entry
      where account_id = ? and kind = 'burn' and source_type = 'credit_hold' and source_id = ?
        and created_at > ?::timestamptz - interval '1 day'`,
    [account.accountId, hold.id, new Date(hold.created_at)],
  );
  return {
    burned: Number(row?.burned ?? 0),
    uncovered: Number(row?.uncovered ?? 0),
    billed: Number(row?.billed ?? 0),
    duplicate: true,
  };
}

/** Gives a live hold back; false for one settled, released, expired or unknown. */
export async function releaseHeld(account: LockedAccount, holdId: string): Promise<boolean> {
  const hold = await holdById(account, holdId);
  if (!hold || hold.state !== 'held') return false;
  freeHold(account, hold);
  account.readsAhead?.holdChanged(hold.id);
  await account.sql(`update credit_hold set state = 'released', updated_at = ? where id = ?`, [
    account.now,
    hold.id,
  ]);
  await expireWhatHoldsLeft(account);
  return true;
}
