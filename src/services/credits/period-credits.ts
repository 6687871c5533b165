import type { CreditRollover } from '../plans/credit.types';
import type { UsagePeriod } from '../usage/usage-period';
import type { LockedAccount } from './credit-account';
import type { CreditSource } from './credit-ledger.types';

/** A usage period to open: the plan's included credits for it, and how the last period's unused ones carry. */
export interface OpenPeriod {
  accountId: string;
  period: UsagePeriod;
  /** The plan at the start of the period: its `credits.included` (0: none) and `rollover`. */
  planKey: string;
  included: number;
  rollover: CreditRollover;
}

export interface OpenPeriodResult {
  /** Included credits granted now (0 when the period was open already, or the plan includes none). */
  granted: number;
  /** What the last period left unused and carried into this one. */
  rolledOver: number;
  /** The last period's included and rolled-over credits that lapsed (never carried). */
  lapsed: number;
  duplicate: boolean;
}

/** The source of a period's included lot: one per account and period start (the lot's unique source). */
export function includedSourceOf(accountId: string, period: UsagePeriod): CreditSource {
  return { type: 'plan_period', id: `${accountId}:${period.start.toISOString()}` };
}

function rolloverSourceOf(accountId: string, period: UsagePeriod): CreditSource {
  return { type: 'plan_rollover', id: `${accountId}:${period.start.toISOString()}` };
}

/** How many of `unused` credits carry into the next period (docs/credits.md "Included credits and rollover"). */
export function carriedOver(unused: number, rule: CreditRollover): number {
  if (rule.kind === 'percent') return Math.floor((unused * rule.percent) / 100);
  if (rule.kind === 'max') return Math.min(unused, rule.max);
  return 0;
}

/**
 * Opens `period` under the account's lock, once: the last period's included and rollover lots (those that
 * expired at or after this period's start: the lock has just expired them) carry over as the plan says, as a
 * `rollover` lot that expires with this period, and the plan's included credits are granted as an `included`
 * lot expiring at the period's end. The included lot's source (`plan_period` + account + period start) is
 * unique, so two requests at the boundary open the period once: the second waits for the lock and finds it.
 */
export async function openPeriodIn(account: LockedAccount, input: OpenPeriod): Promise<OpenPeriodResult> {
  const included = includedSourceOf(input.accountId, input.period);
  const rolloverSource = rolloverSourceOf(input.accountId, input.period);
  const [opened] = await account.sql<{ id: string }>(
    `select id from credit_lot where account_id = ? and source_type in (?, ?) and source_id = ?`,
    [account.accountId, included.type, rolloverSource.type, included.id],
  );
  if (opened) return { granted: 0, rolledOver: 0, lapsed: 0, duplicate: true };
  // The lock expired the last period's lots a moment ago: write those `expiry` entries so they can be read.
  await account.save();
  const unused = await unusedOfLastPeriod(account, input.period);
  const rolledOver = carriedOver(unused, input.rollover);
  if (rolledOver > 0)
    await addPeriodLot(account, 'rollover', rolledOver, input.period.end, rolloverSource, {
      reason: `Rolled over from the last period (${unused} unused, plan ${input.planKey})`,
    });
  if (input.included > 0)
    await addPeriodLot(account, 'included', input.included, input.period.end, included, {
      reason: `Included with the ${input.planKey} plan for the period from ${input.period.start.toISOString()}`,
    });
  return {
    granted: input.included,
    rolledOver,
    lapsed: unused - rolledOver,
    duplicate: input.included === 0 && rolledOver === 0,
  };
}

/**
 * What the last period's included and rollover lots had left when they expired at (or after) this period's
 * start: the sum of their `expiry` entries. Older lots (an account idle for months) carry nothing: their
 * periods were never opened, so nothing of them is carried past one period.
 */
async function unusedOfLastPeriod(account: LockedAccount, period: UsagePeriod): Promise<number> {
  const [row] = await account.sql<{ unused: string }>(
    `select coalesce(-sum(entry.credits), 0) as unused
       from credit_lot lot
       join credit_ledger_entry entry
         on entry.account_id = lot.account_id and entry.lot_id = lot.id and entry.kind = 'expiry'
      where lot.account_id = ? and lot.kind in ('included', 'rollover')
        and lot.expires_at >= ? and lot.expires_at <= ?`,
    [account.accountId, period.start, account.now],
  );
  return Number(row?.unused ?? 0);
}

async function addPeriodLot(
  account: LockedAccount,
  kind: 'included' | 'rollover',
  credits: number,
  expiresAt: Date,
  source: CreditSource,
  entry: { reason: string },
): Promise<void> {
  const id = crypto.randomUUID();
  await account.sql(
    `insert into credit_lot (id, created_at, updated_at, account_id, kind, credits, remaining, expires_at,
                             source_type, source_id)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      account.now,
      account.now,
      account.accountId,
      kind,
      credits,
      credits,
      expiresAt,
      source.type,
      source.id,
    ],
  );
  account.expiring(expiresAt);
  account.record({ kind, credits, uncovered: 0, lotId: id, reason: entry.reason, source, actor: 'system' });
}
