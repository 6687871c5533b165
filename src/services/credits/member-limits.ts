import type { Orm } from '../../database/database';
import type { Clock } from '../time/clock';
import type { Sql } from './credit-account';
import { wholeCredits } from './credit-validation';
import { memberSpend, validMemberId } from './member-limits-check';
import { type MemberPeriod, memberPeriodAt } from './member-period';
import type { MemberUsagePage, MemberUsageView, SetMemberLimit } from './member-limits.types';

interface MemberRow {
  member_id: string;
  monthly_credits: string | null;
  used: string;
  held: string;
}

/**
 * Members' monthly credit limits: what an account's admins set, and each member's month. The limit itself is
 * enforced by the ledger's hold (member-limits-check.ts), in the hold's transaction.
 */
export class MemberLimits {
  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
  ) {}

  /** Sets (or with null removes) a member's limit; answers the member's month as it now stands. */
  async set(input: SetMemberLimit): Promise<MemberUsageView> {
    validMemberId(input.memberId);
    if (input.monthlyCredits !== null) wholeCredits(input.monthlyCredits, 0, 'monthlyCredits');
    const now = this.clock.now();
    const sql = this.sql();
    if (input.monthlyCredits === null)
      await sql('delete from credit_member_limit where account_id = ? and member_id = ?', [
        input.accountId,
        input.memberId,
      ]);
    else
      await sql(
        `insert into credit_member_limit (account_id, member_id, monthly_credits, updated_at, updated_by)
         values (?, ?, ?, ?, ?)
         on conflict (account_id, member_id) do update
           set monthly_credits = excluded.monthly_credits, updated_at = excluded.updated_at,
               updated_by = excluded.updated_by`,
        [input.accountId, input.memberId, input.monthlyCredits, now, input.actor],
      );
    return this.usageOf(input.accountId, input.memberId);
  }

  /** One member's month (a member the account never heard of: no limit, nothing used). */
  async usageOf(accountId: string, memberId: string): Promise<MemberUsageView> {
    validMemberId(memberId);
    const now = this.clock.now();
    const sql = this.sql();
    const [limit] = await sql<{ monthly_credits: string }>(
      'select monthly_credits from credit_member_limit where account_id = ? and member_id = ?',
      [accountId, memberId],
    );
    const spend = await memberSpend(sql, accountId, memberId, now);
    const monthlyCredits = limit ? Number(limit.monthly_credits) : null;
    return viewOf({ memberId, monthlyCredits, ...spend }, memberPeriodAt(now));
  }

  /**
   * Every member of the account with a limit, use this month or a live hold, ordered by member id (byte order),
   * after the member id `after`.
   */
  async page(accountId: string, first: number, after: string | null): Promise<MemberUsagePage> {
    const now = this.clock.now();
    const period = memberPeriodAt(now);
    const rows = await this.sql()<MemberRow>(
      `with members as (
         select member_id from credit_member_limit where account_id = ?
         union select member_id from credit_member_period where account_id = ? and period_start = ?
         union select member_id from credit_hold
                where account_id = ? and member_id is not null and state = 'held' and expires_at > ?)
       select m.member_id, l.monthly_credits, coalesce(p.burned, 0) as used,
              (select coalesce(sum(h.credits), 0) from credit_hold h
                where h.account_id = ? and h.member_id = m.member_id and h.state = 'held' and h.expires_at > ?)
                as held
         from members m
         left join credit_member_limit l on l.account_id = ? and l.member_id = m.member_id
         left join credit_member_period p
                on p.account_id = ? and p.member_id = m.member_id and p.period_start = ?
        ${after === null ? '' : 'where m.member_id collate "C" > ?'}
        order by m.member_id collate "C"
        limit ?`,
      [
        ...[accountId, accountId, period.start, accountId, now, accountId, now, accountId, accountId],
        period.start,
        ...(after === null ? [] : [after]),
        first + 1,
      ],
    );
    return {
      members: rows.slice(0, first).map((row) => viewOf(memberOf(row), period)),
      hasNextPage: rows.length > first,
    };
  }

  private sql(): Sql {
    const connection = this.orm.em.getConnection();
    return (text, params = []) => connection.execute(text, [...params]);
  }
}

type MemberFigures = Pick<MemberUsageView, 'memberId' | 'monthlyCredits' | 'used' | 'held'>;

/** PostgreSQL's bigints come back as strings. */
function memberOf(row: MemberRow): MemberFigures {
  return {
    memberId: row.member_id,
    monthlyCredits: row.monthly_credits === null ? null : Number(row.monthly_credits),
    used: Number(row.used),
    held: Number(row.held),
  };
}

function viewOf(
  { memberId, monthlyCredits, used, held }: MemberFigures,
  period: MemberPeriod,
): MemberUsageView {
  return {
    memberId,
    monthlyCredits,
    used,
    held,
    remaining: monthlyCredits === null ? null : Math.max(0, monthlyCredits - used - held),
    periodStart: period.start,
    periodEnd: period.end,
  };
}
