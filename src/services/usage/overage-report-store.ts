import type { EntityManager } from '@mikro-orm/postgresql';
import { type Period, REPORT_HORIZON_MS } from './overage-report';

/**
 * The overage reporter's SQL on `usage_counter`: which counters have overage to report, the claim of one (a row
 * lock and the report written down as pending), and what became of the send.
 */

export interface DueCounter {
  id: string;
}

/** A counter claimed for a report: what the report sends, stored with the counter before it is sent. */
export interface ClaimedReport {
  counterId: string;
  accountId: string;
  metric: string;
  stripeCustomerId: string;
  reported: number;
  /** The total the report raises `overage_reported` to (`overage_pending`). */
  pending: number;
  /** The meter event's timestamp, Unix seconds (`overage_pending_timestamp`). */
  timestamp: number;
  /** Failed sends of this report so far. */
  failures: number;
}

/** How a pass takes its counters: a regular pass leaves alone what another holds or what waits out a back-off. */
export interface ClaimMode {
  /** `flushAccount`: wait for a row another reporter is locking, and send even a report in back-off. */
  immediate: boolean;
}

export type CounterRow = Record<string, unknown>;

/** Which counters a pass looks at, and when. */
export interface DueQuery {
  now: Date;
  /** Usage stamped this long before a Stripe billing period's end is still billed on it. */
  lateUsageWindowMs: number;
  maxPerPass: number;
  /** One account's counters only (`flushAccount`): reports in back-off included. */
  accountId?: string;
}

/**
 * Counters with overage to report (a pending report, or more overage than reported) whose overage Stripe can
 * still bill: the usage period ended less than 35 days ago, or lies inside a Stripe billing period that is
 * still open (the monthly slices of a yearly subscription). Only accounts with a Stripe customer that is not
 * deleted (the others are skipped: there is nobody to bill). A regular pass leaves out reports waiting out a
 * back-off or held by another reporter, and takes fresh reports before ones that failed, so failing rows never
 * hold the others back.
 */
export function findDueCounters(em: EntityManager, query: DueQuery): Promise<DueCounter[]> {
  const { now } = query;
  const horizon = new Date(now.getTime() - REPORT_HORIZON_MS);
  const billingOpenSince = new Date(now.getTime() - query.lateUsageWindowMs);
  const forAccount = query.accountId !== undefined;
  const accountOf = (alias: string) => (forAccount ? `and ${alias}."account_id" = ?` : '');
  const account = forAccount ? [query.accountId] : [];
  return em.fork().execute<DueCounter[]>(
    `with "reportable" as (
       select c."id" from "usage_counter" c where c."period_end" > ? ${accountOf('c')}
       union
       select c."id" from "subscription" s
         join "usage_counter" c on c."account_id" = s."account_id"
              and c."period_start" >= s."current_period_start" and c."period_end" <= s."current_period_end"
        where s."current_period_end" > ? ${accountOf('s')}
     )
     select c."id" from "reportable" r
       join "usage_counter" c on c."id" = r."id"
       join "billing_customer" b on b."account_id" = c."account_id"
            and b."stripe_customer_id" is not null and b."deleted_at" is null
      where (c."overage_pending" is not null
             or (c."over_limit" = 'bill_overage' and c."included" is not null
                 and c."peak" - c."included" > c."overage_reported"))
        ${forAccount ? '' : 'and (c."overage_next_attempt_at" is null or c."overage_next_attempt_at" <= ?)'}
      order by c."overage_attempts", c."period_end", c."id"
      limit ?`,
    [horizon, ...account, billingOpenSince, ...account, ...(forAccount ? [] : [now]), query.maxPerPass],
    'all',
  );
}

/**
 * The counter row with its Stripe customer, locked for this transaction. A regular pass skips a row another
 * reporter is locking or that waits out a back-off or a lease; `immediate` waits for the lock and takes it anyway.
 */
export async function lockCounter(
  tx: EntityManager,
  counterId: string,
  { immediate }: ClaimMode,
  now: Date,
): Promise<CounterRow | undefined> {
  const rows = await tx.execute<CounterRow[]>(
    `select c.*, b."stripe_customer_id" from "usage_counter" c
       join "billing_customer" b on b."account_id" = c."account_id"
      where c."id" = ? and b."stripe_customer_id" is not null and b."deleted_at" is null
        ${immediate ? '' : 'and (c."overage_next_attempt_at" is null or c."overage_next_attempt_at" <= ?)'}
      for update of c ${immediate ? '' : 'skip locked'}`,
    immediate ? [counterId] : [counterId, now],
    'all',
  );
  return rows[0];
}

/** The billing periods the account's subscriptions are in, as our rows hold them (what Stripe last told us). */
export async function billingPeriodsOf(tx: EntityManager, accountId: string): Promise<Period[]> {
  const rows = await tx.execute<Array<{ start: Date | string; end: Date | string }>>(
    `select "current_period_start" as "start", "current_period_end" as "end" from "subscription"
      where "account_id" = ? and "current_period_start" is not null and "current_period_end" is not null`,
    [accountId],
    'all',
  );
  return rows.map((row) => ({ start: dateOf(row.start), end: dateOf(row.end) }));
}

/** Writes the report down as pending, with a lease (`leaseUntil`) so no other reporter sends it meanwhile. */
export async function writePending(
  tx: EntityManager,
  counterId: string,
  report: Pick<ClaimedReport, 'pending' | 'timestamp' | 'failures'>,
  now: Date,
  leaseUntil: Date,
): Promise<void> {
  await tx.execute(
    `update "usage_counter"
        set "overage_pending" = ?, "overage_pending_timestamp" = ?,
            "overage_pending_since" = coalesce("overage_pending_since", ?), "overage_attempts" = ?,
            "overage_next_attempt_at" = ?, "updated_at" = now()
      where "id" = ?`,
    [report.pending, new Date(report.timestamp * 1000), now, report.failures, leaseUntil, counterId],
    'run',
  );
}

/** Stripe has the report: `overage_reported` takes its total and the pending report is cleared. */
export async function markReported(em: EntityManager, report: ClaimedReport): Promise<void> {
  await em.fork().execute(
    `update "usage_counter"
        set "overage_reported" = greatest("overage_reported", ?), "overage_pending" = null,
            "overage_pending_timestamp" = null, "overage_pending_since" = null, "overage_attempts" = 0,
            "overage_next_attempt_at" = null, "updated_at" = now()
      where "id" = ? and "overage_pending" = ?`,
    [report.pending, report.counterId, report.pending],
    'run',
  );
}

/** The send failed: the report stays pending, with its failures counted and the time of its next attempt. */
export async function markFailed(
  em: EntityManager,
  report: ClaimedReport,
  failures: number,
  nextAttemptAt: Date,
): Promise<void> {
  await em.fork().execute(
    `update "usage_counter"
        set "overage_attempts" = ?, "overage_next_attempt_at" = ?, "updated_at" = now()
      where "id" = ? and "overage_pending" = ?`,
    [failures, nextAttemptAt, report.counterId, report.pending],
    'run',
  );
}

/** The earliest end after `after` of a usage period that bills overage, or null. */
export async function earliestBilledPeriodEnd(em: EntityManager, after: Date): Promise<Date | null> {
  const rows = await em.fork().execute<Array<{ next_end: Date | string | null }>>(
    `select min("period_end") as next_end from "usage_counter"
      where "over_limit" = 'bill_overage' and "included" is not null and "period_end" > ?`,
    [after],
    'all',
  );
  const nextEnd = rows[0]?.next_end;
  return nextEnd ? new Date(nextEnd) : null;
}

export function dateOf(value: unknown): Date {
  return new Date(value as string | Date);
}

export function secondsOf(value: unknown): number {
  return Math.floor(dateOf(value).getTime() / 1000);
}
