import type { LockedAccount } from './credit-account';
import type { HoldRow } from './hold-row';
import { MEMBER_HELD_SQL, MEMBER_USED_SQL, type MemberLimitNow } from './member-limits-check';
import { memberPeriodAt } from './member-period';

/** What a new hold is decided on, besides the account's figures. */
export interface HoldInputs {
  /** The hold this id names already (a retry; or another account's, refused), if any. */
  earlier: HoldRow | undefined;
  /** The member's monthly limit with what the member used and holds; null without a member or a limit. */
  memberLimit: MemberLimitNow | null;
}

interface InputsRow {
  earlier: HoldRow | null;
  monthly_credits: string | null;
  used: string;
  held: string;
}

/**
 * Reads a hold's inputs in one statement (every statement is a round trip on the model-call hot path), after the
 * account's lock: the account's holds and members' spend cannot change under it, and the member's limit row is
 * locked here (`for update`: a limit being changed waits, or is waited for and read as committed).
 */
export async function readHoldInputs(
  account: LockedAccount,
  holdId: string,
  memberId: string | null,
): Promise<HoldInputs> {
  const { accountId, now } = account;
  // Both read ahead with the group's others after its lock (group-reads.ts): a member with a limit is read here.
  const reads = account.readsAhead;
  const known = reads?.hold(holdId);
  if (known !== undefined && (memberId === null || reads?.memberUnlimited(accountId, memberId)))
    return { earlier: known ?? undefined, memberLimit: null };
  const [row] = await account.sql<InputsRow>(
    `select (select to_jsonb(hold) from credit_hold hold where hold.id = ?) as earlier,
            member_limit.monthly_credits,
            case when member_limit.monthly_credits is null then 0 else ${MEMBER_USED_SQL} end as used,
            case when member_limit.monthly_credits is null then 0 else ${MEMBER_HELD_SQL} end as held
       from (select 1) as one
       left join (select monthly_credits from credit_member_limit
                   where account_id = ? and member_id = ? for update) as member_limit on true`,
    [holdId, accountId, memberId, memberPeriodAt(now).start, accountId, memberId, now, accountId, memberId],
  );
  const limited = row?.monthly_credits != null && memberId !== null;
  return {
    earlier: row?.earlier ?? undefined,
    memberLimit: limited
      ? { monthlyCredits: Number(row.monthly_credits), used: Number(row.used), held: Number(row.held) }
      : null,
  };
}
