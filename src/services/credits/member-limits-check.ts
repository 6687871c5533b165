import { BadUserInputError, MemberLimitReachedError } from '../../errors';
import type { LockedAccount, Sql } from './credit-account';
import { memberPeriodAt } from './member-period';

/** Printable ASCII, 1 to 128 characters, no space at either end: ids of the calling service (user ids, emails). */
const MEMBER_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

export function validMemberId(memberId: string): string {
  if (!MEMBER_ID.test(memberId))
    throw new BadUserInputError(
      'memberId must be 1 to 128 printable ASCII characters, without a space at either end',
      'memberId',
    );
  return memberId;
}

export interface MemberSpend {
  used: number;
  held: number;
}

/** A member's limit and spend as a hold weighs them (read with the hold's other inputs: hold-inputs.ts). */
export interface MemberLimitNow extends MemberSpend {
  monthlyCredits: number;
}

/** What a member's settled work used this month: params account, member, the month's start. */
export const MEMBER_USED_SQL = `coalesce((select burned from credit_member_period
                       where account_id = ? and member_id = ? and period_start = ?), 0)`;

/** What a member's live holds keep: params account, member, now. */
export const MEMBER_HELD_SQL = `(select coalesce(sum(credits), 0) from credit_hold
              where account_id = ? and member_id = ? and state = 'held' and expires_at > ?)`;

/** What a member's settled work used this month and what the member's live holds keep, in one statement. */
export async function memberSpend(
  sql: Sql,
  accountId: string,
  memberId: string,
  now: Date,
): Promise<MemberSpend> {
  const [row] = await sql<{ used: string; held: string }>(
    `select ${MEMBER_USED_SQL} as used, ${MEMBER_HELD_SQL} as held`,
    [accountId, memberId, memberPeriodAt(now).start, accountId, memberId, now],
  );
  return { used: Number(row?.used ?? 0), held: Number(row?.held ?? 0) };
}

/**
 * Called by the ledger's hold, in its transaction, after the account's lock, with the member's limit and spend
 * read there (hold-inputs.ts; the limit row locked, so a limit being changed and a hold weighing it are one after
 * the other): a hold for a member with a limit is refused (MEMBER_LIMIT_REACHED, nothing written) when the
 * member's used + held + requested would pass it. A member without a limit is limited by the account's balance only.
 */
export function enforceMemberLimit(
  memberLimit: MemberLimitNow | null,
  memberId: string | null | undefined,
  requested: number,
): void {
  if (memberId === null || memberId === undefined) return;
  validMemberId(memberId);
  if (!memberLimit) return;
  const { monthlyCredits, used, held } = memberLimit;
  // A hold of 0 credits (a call reserved with no tokens) is still work started: a member at the limit (or with a
  // limit of 0) starts nothing, or the call's commit, which may report more input than reserved, passes the limit.
  if (used + held + Math.max(requested, 1) > monthlyCredits)
    throw new MemberLimitReachedError({ memberId, limit: monthlyCredits, used, held, requested });
}

/**
 * Called by the ledger's settle, in its transaction: the member's month counts what the work used, in the month
 * of the settle. A settle of more than was held counts all of it, so the member may pass the limit by that overrun
 * (as the balance covers what it can): the limit decides which work starts, not what finished work used.
 */
export function countMemberUse(account: LockedAccount, memberId: string | null, credits: number): void {
  if (memberId === null || credits === 0) return;
  // Written with the balance row (nothing reads the member's month again in the settle's transaction).
  account.writeWithSave({
    kind: 'member_use',
    row: [account.accountId, memberId, memberPeriodAt(account.now).start, credits],
  });
}
