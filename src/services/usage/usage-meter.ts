import { UsageCounter } from '../../entities';
import { BadUserInputError, BillingError, ErrorCode } from '../../errors';
import type { AccountAllowances } from './account-allowances';
import { GroupCommitter, type Settled } from '../../database/group-committer';
import { MAX_BATCH_GROUP, recordBatches } from './usage-batch-groups';
import { type UsagePeriod, usagePeriodAt } from './usage-period';
import { usageFiguresOf } from './usage-reader';
import {
  type PlannedEvent,
  type RecordingResult,
  type RecordMode,
  type RecordOutcome,
} from './usage-recording';
import { recordWithRetries } from './usage-record-retries';
import { shareCommitted } from './usage-sharing';
import { type UsageEvent, type ValidUsageEvent, validateUsageEvents } from './usage-validation';
import type { UsageWriting } from './usage-writing';

export type { RecordOutcome };

/** The most single records one group commit carries: a bound on one transaction's locks and statement size. */
export const MAX_RECORD_GROUP = 128;

/**
 * Batch groups written at the same time (ADR 0034): one alone would leave PostgreSQL one core of two while its
 * group is in flight; two keep both busy. Groups of any lane lock their counters in one order (ADR 0019).
 */
export const BATCH_LANES = 2;

/** A grouped record's answer: its outcome, and the group's copies and publishes, shared by its members. */
interface GroupedOutcome {
  outcome: RecordOutcome;
  shared: Promise<void>;
}

/** A grouped batch's answer: its outcomes, and the group's copies and publishes. */
interface GroupedBatch {
  outcomes: RecordOutcome[];
  shared: Promise<void>;
}

/**
 * Records usage exactly once and enforces limits atomically.
 *
 * A call is one PostgreSQL statement, however many records it carries (`usage_record_group`, called by
 * `usage-record-statement.ts`): it locks the counters (creating them if new), finds which idempotency keys are
 * already recorded, decides each record in order against the locked figures, inserts the new records and saves
 * the counters. A call whose records cross a threshold the account is mailed about runs as a transaction of
 * the same steps instead (`usage-recording.ts`), which queues the mail with the records. A hard limit (`block`) is checked against the locked row, so 50 concurrent requests one below the
 * limit let exactly one through. After commit the Redis copies are updated and `usageUpdated` is published
 * (throttled). Redis is never needed to record: without it, the same transaction runs and only the copies are
 * skipped.
 *
 * `recordBatch` is all or none. `record` (one use, what `recordUsage` sends) goes through a group commit
 * (ADR 0019): single records arriving together share one transaction, one fsync and one Redis round trip, and
 * each is answered on its own, after the commit.
 */
export class UsageMeter {
  private readonly group: GroupCommitter<PlannedEvent, GroupedOutcome>;
  private readonly batchLanes: Array<GroupCommitter<PlannedEvent[], GroupedBatch>>;

  constructor(private readonly writing: UsageWriting) {
    this.group = new GroupCommitter(
      (planned) => this.recordGroup(planned),
      MAX_RECORD_GROUP,
      (size) => writing.metrics?.grouped('record', size),
    );
    this.batchLanes = Array.from(
      { length: BATCH_LANES },
      () =>
        new GroupCommitter(
          (batches: PlannedEvent[][]) => this.recordBatchGroup(batches),
          MAX_BATCH_GROUP,
          (size) => writing.metrics?.grouped('batch', size),
        ),
    );
  }

  /** One use of a metric, answered once its group is committed; refused alone (a limit, a reused key). */
  async record(event: UsageEvent): Promise<RecordOutcome> {
    const now = this.writing.clock.now();
    const [planned] = await this.validateAndPlan([event], now);
    try {
      const { outcome, shared } = await this.group.submit(planned as PlannedEvent);
      await shared;
      return outcome;
    } catch (error) {
      this.countRefusal(error);
      throw error;
    }
  }

  /**
   * Records every event or none (a bad or over-limit one fails the call); outcomes in the order given. Batches
   * arriving together share a statement and its commit (ADR 0034), each still all or none, answered after it.
   */
  async recordBatch(events: readonly UsageEvent[]): Promise<RecordOutcome[]> {
    const planned = await this.validateAndPlan(events, this.writing.clock.now());
    const lane = this.batchLanes.reduce((least, next) => (next.load() < least.load() ? next : least));
    try {
      const { outcomes, shared } = await lane.submit(planned);
      await shared;
      return outcomes;
    } catch (error) {
      this.countRefusal(error);
      throw error;
    }
  }

  /** Groups written and records answered through the group commit so far. */
  groupStats(): { groups: number; requests: number } {
    return this.group.stats();
  }

  /** Batch groups written and batches answered through them so far. */
  batchGroupStats(): { groups: number; requests: number } {
    const lanes = this.batchLanes.map((lane) => lane.stats());
    return {
      groups: lanes.reduce((sum, lane) => sum + lane.groups, 0),
      requests: lanes.reduce((sum, lane) => sum + lane.requests, 0),
    };
  }

  private async validateAndPlan(events: readonly UsageEvent[], now: Date): Promise<PlannedEvent[]> {
    let valid: ValidUsageEvent[];
    try {
      valid = validateUsageEvents(events, now);
    } catch (error) {
      this.writing.metrics?.rejected(events[0]?.metric ?? 'unknown', ErrorCode.BAD_USER_INPUT);
      throw error;
    }
    return this.plan(valid, now);
  }

  /** One group of single records: each answered on its own, the group's copies and publishes sent once. */
  private async recordGroup(planned: PlannedEvent[]): Promise<Array<Settled<GroupedOutcome>>> {
    const mode: RecordMode = 'each-own';
    const result = await recordWithRetries(this.writing, planned, mode);
    const shared = this.share(result);
    // Awaited by each answered member; a group whose every member was refused has nobody to await it.
    shared.catch(() => undefined);
    return result.settled.map((settled) =>
      settled.ok ? { ok: true, value: { outcome: settled.value, shared } } : settled,
    );
  }

  /** One group of batches: each answered on its own, the group's copies and publishes sent once per result. */
  private async recordBatchGroup(batches: PlannedEvent[][]): Promise<Array<Settled<GroupedBatch>>> {
    const { settled, results } = await recordBatches(this.writing, batches);
    const shared = Promise.all(results.map((result) => this.share(result))).then(() => undefined);
    shared.catch(() => undefined);
    return settled.map((answer) =>
      answer.ok ? { ok: true, value: { outcomes: answer.value, shared } } : answer,
    );
  }

  private countRefusal(error: unknown): void {
    if (error instanceof BillingError && error.extensions.code === ErrorCode.USAGE_LIMIT_EXCEEDED)
      this.writing.metrics?.rejected(String(error.extensions.metric), ErrorCode.USAGE_LIMIT_EXCEEDED);
  }

  private async plan(events: ValidUsageEvent[], now: Date): Promise<PlannedEvent[]> {
    const accounts = new Map<string, AccountAllowances>();
    for (const accountId of new Set(events.map((event) => event.accountId)))
      accounts.set(accountId, await this.writing.gate.allowances(accountId));
    // Each account's current period once: most uses of a batch fall in it (and need no lookup).
    const current = new Map<string, UsagePeriod>();
    for (const [accountId, allowances] of accounts)
      current.set(accountId, usagePeriodAt(allowances.billingPeriod, now));
    const found = events.map((event) => {
      const period = current.get(event.accountId) as UsagePeriod;
      if (event.occurredAt >= period.start && event.occurredAt < period.end) return period;
      return this.periodOf(accounts.get(event.accountId) as AccountAllowances, event, now);
    });
    // Awaited only when a use needed a lookup: a promise per record was a part of a batch's CPU (ADR 0034).
    const periods = found.some((period) => period instanceof Promise) ? await Promise.all(found) : found;
    return events.map((event, index) => {
      const allowances = accounts.get(event.accountId) as AccountAllowances;
      const allowance = allowances.metrics.get(event.metric);
      if (!allowance)
        throw new BillingError(
          ErrorCode.BAD_USER_INPUT,
          `The ${allowances.plan.name} plan has no ${event.metric} metric`,
        );
      if (allowance.kind === 'counter' && event.quantity === 0)
        throw new BadUserInputError(
          `quantity must be at least 1 for ${event.metric}: a use of nothing is not recorded`,
          events.length > 1 ? `input[${index}].quantity` : 'input.quantity',
        );
      const period = periods[index] as UsagePeriod;
      return { event, allowance, allowances, period, late: period.end <= now };
    });
  }

  /**
   * The usage period a use counts in: the one it happened in. A use dated before the account's current period
   * (recorded late, just after a renewal) counts in its own period, with that period's allowance, never in the
   * new one's fresh allowance: in the counter that period already has, or (if it has none, so nothing else was
   * used in it) in the period it falls in. Its overage is then reported stamped inside that period while
   * Stripe's invoice for it is still open to usage, else stamped now and billed on the next invoice: one period
   * late at worst, never lost (`OverageReporter`).
   */
  private async periodOf(
    allowances: AccountAllowances,
    event: ValidUsageEvent,
    now: Date,
  ): Promise<UsagePeriod> {
    const current = usagePeriodAt(allowances.billingPeriod, now);
    if (event.occurredAt >= current.start) return usagePeriodAt(allowances.billingPeriod, event.occurredAt);
    const predicted = usagePeriodAt(allowances.billingPeriod, event.occurredAt);
    const own = await this.writing.orm.em.fork().find(
      UsageCounter,
      {
        accountId: event.accountId,
        metric: event.metric,
        periodStart: { $lte: event.occurredAt },
        periodEnd: { $gt: event.occurredAt },
      },
      { fields: ['periodStart', 'periodEnd'], orderBy: { periodStart: 'desc' }, disableIdentityMap: true },
    );
    const counter =
      own.find((row) => row.periodStart.getTime() === predicted.start.getTime()) ?? own[0] ?? null;
    return counter ? { start: counter.periodStart, end: counter.periodEnd } : predicted;
  }

  private async share(result: RecordingResult): Promise<void> {
    const recorded = new Map<string, number>();
    for (const record of result.recorded) recorded.set(record.metric, (recorded.get(record.metric) ?? 0) + 1);
    await shareCommitted(
      this.writing,
      result.changed.map(({ counter, item }) => ({
        counter: { ...counter },
        figures: usageFiguresOf(item.allowance, counter, item.period, counter.included),
      })),
      recorded,
    );
    if (result.notifications > 0)
      this.writing.logger.info({ mails: result.notifications }, 'usage threshold mails queued');
  }
}
