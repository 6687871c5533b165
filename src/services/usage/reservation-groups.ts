import type { UsageGroupKind } from '../../observability/metrics';
import type { AccountAllowances, MetricAllowance } from './account-allowances';
import { GroupCommitter, type Settled } from '../../database/group-committer';
import { usageFiguresOf } from './usage-reader';
import { runStatement } from './usage-statement';
import { type CommittedCounter, shareCommitted } from './usage-sharing';
import { queueThresholdMail, type ThresholdCounter, thresholdToTell } from './usage-thresholds';
import { isMetricKey } from './usage-validation';
import type { UsageWriting } from './usage-writing';

/** The most reservation calls one group statement carries: a bound on one transaction's locks. */
export const MAX_RESERVATION_GROUP = 128;

export interface ReserveInGroup {
  reservationId: string;
  accountId: string;
  metric: string;
  periodStart: Date;
  periodEnd: Date;
  included: number | null;
  overLimit: string;
  quantity: number;
  expiresAt: Date;
  idempotencyKey: string | null;
}

export interface ReserveRow {
  outcome: 'held' | 'duplicate' | 'limit';
  reservation_id: string | null;
  expires_at: Date | string | null;
  used: string;
  reserved: string;
  included: string | null;
  period_start: Date | string;
  period_end: Date | string;
}

export interface CommitInGroup {
  reservationId: string;
  accountId: string;
  quantity: number;
  /** The account's allowances, read before: the figures published after the commit are computed from them. */
  allowances: AccountAllowances;
}

export interface CommitRow {
  outcome: 'committed' | 'duplicate' | 'released' | 'unknown';
  counter_id: string;
  metric: string;
  used: string;
  peak: string;
  reserved: string;
  included: string | null;
  threshold_notified: number;
  revision: string;
  period_start: Date | string;
  period_end: Date | string;
}

/** A commit's row, and its group's copies, publishes and threshold mails, which it waits for. */
export interface CommitAnswer {
  row: CommitRow;
  shared: Promise<void>;
}

export interface ReleaseInGroup {
  reservationId: string;
  accountId: string;
}

/**
 * Reserve, commit and release as group commits (ADR 0019): the calls that arrive while a group is in PostgreSQL
 * go together in the next one, as one statement (`usage_reserve_group`, `usage_commit_group`,
 * `usage_release_group`): one round trip, one transaction, one fsync, each call answered by its own row. The
 * commits' Redis copies go in one pipeline per group and `usageUpdated` once per account and metric.
 */
export class ReservationGroups {
  readonly reserves: GroupCommitter<ReserveInGroup, ReserveRow>;
  readonly commits: GroupCommitter<CommitInGroup, CommitAnswer>;
  readonly releases: GroupCommitter<ReleaseInGroup, string>;

  constructor(private readonly writing: UsageWriting) {
    const sizes = (kind: UsageGroupKind) => (size: number) => writing.metrics?.grouped(kind, size);
    this.reserves = new GroupCommitter(
      (group) => this.reserveGroup(group),
      MAX_RESERVATION_GROUP,
      sizes('reserve'),
    );
    this.commits = new GroupCommitter(
      (group) => this.commitGroup(group),
      MAX_RESERVATION_GROUP,
      sizes('commit'),
    );
    this.releases = new GroupCommitter(
      (group) => this.releaseGroup(group),
      MAX_RESERVATION_GROUP,
      sizes('release'),
    );
  }

  private async reserveGroup(group: ReserveInGroup[]): Promise<Array<Settled<ReserveRow>>> {
    const rows = await this.run<ReserveRow>(
      'select * from usage_reserve_group(?::jsonb, ?)',
      group.map((request, item) => ({
        item,
        reservation_id: request.reservationId,
        account_id: request.accountId,
        metric: request.metric,
        period_start: request.periodStart.toISOString(),
        period_end: request.periodEnd.toISOString(),
        included: request.included,
        over_limit: request.overLimit,
        quantity: request.quantity,
        expires_at: request.expiresAt.toISOString(),
        idempotency_key: request.idempotencyKey,
      })),
    );
    return answersOf(group, rows);
  }

  private async commitGroup(group: CommitInGroup[]): Promise<Array<Settled<CommitAnswer>>> {
    const rows = await this.run<CommitRow>(
      'select * from usage_commit_group(?::jsonb, ?)',
      group.map((request, item) => ({
        item,
        reservation_id: request.reservationId,
        account_id: request.accountId,
        quantity: request.quantity,
        record_id: crypto.randomUUID(),
      })),
    );
    const answers = answersOf(group, rows);
    const shared = this.shareCommits(group, answers);
    // Awaited by each answered member; a group whose every member failed has nobody to await it.
    shared.catch(() => undefined);
    return answers.map((answer) => (answer.ok ? { ok: true, value: { row: answer.value, shared } } : answer));
  }

  private async releaseGroup(group: ReleaseInGroup[]): Promise<Array<Settled<string>>> {
    const rows = await this.run<{ outcome: string }>(
      'select * from usage_release_group(?::jsonb, ?)',
      group.map((request, item) => ({
        item,
        reservation_id: request.reservationId,
        account_id: request.accountId,
      })),
    );
    return answersOf(group, rows).map((answer) =>
      answer.ok ? { ok: true, value: answer.value.outcome } : answer,
    );
  }

  /**
   * One group statement, run again once if it deadlocked with another instance's group or raced one on a
   * reservation's idempotency key (a unique violation): either rolled the whole statement back, and the second
   * run sees the other's commit (the key then answers `duplicate`).
   */
  private async run<Row>(sql: string, requests: object[]): Promise<Array<Row & { item: number }>> {
    const execute = () =>
      runStatement<Row & { item: number }>(this.writing.orm, sql, [
        JSON.stringify(requests),
        this.writing.clock.now(),
      ]);
    return execute().catch((error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      if (code !== '40P01' && code !== '23505') throw error;
      return execute();
    });
  }

  /** After a group of commits: copies and publishes once for the group, threshold mails once per counter. */
  private async shareCommits(group: CommitInGroup[], answers: Array<Settled<CommitRow>>): Promise<void> {
    const committed: Array<
      CommittedCounter & {
        counter: ReturnType<typeof committedCounterOf>;
        allowance: MetricAllowance;
        allowances: AccountAllowances;
      }
    > = [];
    const recorded = new Map<string, number>();
    answers.forEach((answer, index) => {
      const request = group[index] as CommitInGroup;
      if (!answer.ok || answer.value.outcome !== 'committed' || request.quantity === 0) return;
      const { metric } = answer.value;
      const allowance = isMetricKey(metric) ? request.allowances.metrics.get(metric) : undefined;
      if (!allowance) return;
      const counter = committedCounterOf(answer.value, request.accountId);
      recorded.set(counter.metric, (recorded.get(counter.metric) ?? 0) + 1);
      committed.push({
        counter,
        figures: usageFiguresOf(allowance, counter, periodOf(answer.value), counter.included),
        allowance,
        allowances: request.allowances,
      });
    });
    await shareCommitted(this.writing, committed, recorded);
    const newest = new Map<string, (typeof committed)[number]>();
    for (const entry of committed) {
      const kept = newest.get(entry.counter.id);
      if (!kept || kept.counter.revision < entry.counter.revision) newest.set(entry.counter.id, entry);
    }
    for (const { counter, allowance, allowances } of newest.values()) {
      const threshold = thresholdToTell(counter);
      if (threshold !== null && counter.included !== null)
        await this.tellThreshold(
          { ...counter, included: counter.included },
          threshold,
          allowance,
          allowances,
        );
    }
  }

  /** Claims the threshold on the counter (once, whoever crosses it first) and queues its mail, in one transaction. */
  private async tellThreshold(
    counter: ThresholdCounter & { id: string; included: number },
    threshold: number,
    allowance: MetricAllowance,
    allowances: AccountAllowances,
  ): Promise<void> {
    await this.writing.orm.em.fork().transactional(async (em) => {
      const claimed = await em.getConnection().execute<Array<{ email: string | null }>>(
        `update usage_counter c set threshold_notified = ?
            where c.id = ? and c.threshold_notified < ?
           returning (select email from billing_customer b where b.account_id = c.account_id) as email`,
        [threshold, counter.id, threshold],
        'all',
        em.getTransactionContext(),
      );
      if (claimed.length === 0) return;
      await queueThresholdMail(em, this.writing.notifier, {
        counter,
        threshold,
        allowance,
        allowances,
        recipient: claimed[0]?.email ?? null,
      });
    });
    this.writing.logger.info(
      { accountId: counter.accountId, metric: counter.metric, threshold },
      'usage threshold mail queued',
    );
  }
}

/** Each request's row, found by its `item` number. */
function answersOf<Row>(group: readonly unknown[], rows: Array<Row & { item: number }>): Array<Settled<Row>> {
  const byItem = new Map(rows.map((row) => [Number(row.item), row]));
  return group.map((_, item) => {
    const row = byItem.get(item);
    return row
      ? { ok: true, value: row }
      : { ok: false, error: new Error('The group statement gave no row') };
  });
}

export function periodOf(row: { period_start: Date | string; period_end: Date | string }) {
  return { start: new Date(row.period_start), end: new Date(row.period_end) };
}

export function committedCounterOf(row: CommitRow, accountId: string) {
  return {
    id: row.counter_id,
    accountId,
    metric: row.metric,
    periodStart: new Date(row.period_start),
    periodEnd: new Date(row.period_end),
    used: Number(row.used),
    peak: Number(row.peak),
    included: row.included === null ? null : Number(row.included),
    thresholdNotified: Number(row.threshold_notified),
    revision: Number(row.revision),
  };
}
