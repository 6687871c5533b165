import type { EntityManager } from '@mikro-orm/postgresql';
import { UsageCounter } from '../../entities';
import { BadUserInputError, BillingError, ErrorCode } from '../../errors';
import type { AccountAllowances, MetricAllowance } from './account-allowances';
import type { CounterCopy } from './usage-copies';
import {
  type CounterKey,
  counterKeyOf,
  type LockedCounter,
  lockCountersAndFindRecorded,
  type NewUsageRecord,
  recordKeyOf,
  saveRecordsAndCounters,
} from './usage-ledger';
import { type UsagePeriod, usagePeriodAt } from './usage-period';
import { type UsageFigures, usageFiguresOf } from './usage-reader';
import { limitExceeded, metricNotAvailable } from './usage-limits';
import { emailsOf, queueThresholdMail, thresholdToTell } from './usage-thresholds';
import { type UsageEvent, type ValidUsageEvent, validateUsageEvents } from './usage-validation';
import type { UsageWriting } from './usage-writing';

export interface RecordOutcome {
  /** The idempotency key was already recorded: nothing was added. */
  duplicate: boolean;
  /** The metric's usage right after this record. */
  usage: UsageFigures;
}

/** Another transaction recorded one of our keys first; the batch is run again and sees it as a duplicate. */
class KeyRace extends Error {}

interface PlannedEvent {
  event: ValidUsageEvent;
  allowance: MetricAllowance;
  allowances: AccountAllowances;
  period: UsagePeriod;
  /** Dated in a period before the current one: that period's stored rule applies, not today's. */
  late: boolean;
}

/**
 * Records usage exactly once and enforces limits atomically.
 *
 * A call is one PostgreSQL transaction of two statements, however many records it carries: lock the counters
 * (creating them if new) and find which idempotency keys are already recorded; decide each record in order
 * against the locked figures; insert the new records and save the counters. A hard limit (`block`) is checked against the
 * locked row, so 50 concurrent requests one below the limit let exactly one through; a record over it fails the
 * whole call with USAGE_LIMIT_EXCEEDED and nothing is written. After commit the Redis copies are updated and
 * `usageUpdated` is published (throttled). Redis is never needed to record: without it, the same transaction
 * runs and only the copies are skipped.
 */
export class UsageMeter {
  constructor(private readonly writing: UsageWriting) {}

  /** One use of a metric (see `recordBatch`). */
  async record(
    accountId: string,
    metric: string,
    quantity: number,
    idempotencyKey: string,
    occurredAt?: Date | null,
  ): Promise<RecordOutcome> {
    const [outcome] = await this.recordBatch([{ accountId, metric, quantity, idempotencyKey, occurredAt }]);
    return outcome as RecordOutcome;
  }

  /** Records every event or none (a bad or over-limit one fails the call); outcomes in the order given. */
  async recordBatch(events: readonly UsageEvent[]): Promise<RecordOutcome[]> {
    const now = this.writing.clock.now();
    let valid: ValidUsageEvent[];
    try {
      valid = validateUsageEvents(events, now);
    } catch (error) {
      this.writing.metrics?.rejected(events[0]?.metric ?? 'unknown', ErrorCode.BAD_USER_INPUT);
      throw error;
    }
    const planned = await this.plan(valid, now);
    let result: TransactionResult;
    try {
      result = await this.transact(planned, now).catch(async (error: unknown) => {
        if (!(error instanceof KeyRace) && !isDeadlock(error)) throw error;
        return this.transact(planned, this.writing.clock.now()).catch((again: unknown) => {
          if (!(again instanceof KeyRace) && !isDeadlock(again)) throw again;
          throw new BillingError(
            ErrorCode.CONFLICT,
            'Another record with one of these idempotency keys is being made at the same moment: retry',
          );
        });
      });
    } catch (error) {
      if (error instanceof BillingError && error.extensions.code === ErrorCode.USAGE_LIMIT_EXCEEDED)
        this.writing.metrics?.rejected(String(error.extensions.metric), ErrorCode.USAGE_LIMIT_EXCEEDED);
      throw error;
    }
    await this.afterCommit(result);
    return result.outcomes;
  }

  private async plan(events: ValidUsageEvent[], now: Date): Promise<PlannedEvent[]> {
    const accounts = new Map<string, AccountAllowances>();
    for (const accountId of new Set(events.map((event) => event.accountId)))
      accounts.set(accountId, await this.writing.gate.allowances(accountId));
    const periods = await Promise.all(
      events.map((event) => this.periodOf(accounts.get(event.accountId) as AccountAllowances, event, now)),
    );
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

  private async transact(planned: PlannedEvent[], now: Date): Promise<TransactionResult> {
    return this.writing.orm.em.fork().transactional(async (em) => {
      const { counters, recorded: seen } = await lockCountersAndFindRecorded(
        em,
        counterKeysOf(planned),
        planned.map(({ event }) => event),
        now,
      );
      const outcomes: RecordOutcome[] = [];
      const records: NewUsageRecord[] = [];
      // Each changed counter, with the (last) record that changed it: its allowance and period.
      const changed = new Map<string, ChangedCounter>();
      for (const item of planned) {
        const { event, allowance, period } = item;
        const counter = counters.get(
          counterKeyOf(event.accountId, event.metric, period.start),
        ) as LockedCounter;
        const recordKey = recordKeyOf(event.accountId, event.idempotencyKey);
        const earlier = seen.get(recordKey);
        // A retry is the same use; a key reused for another use is the caller's bug, and silently calling it
        // a duplicate would drop that use.
        if (earlier && (earlier.metric !== event.metric || earlier.quantity !== event.quantity))
          throw new BillingError(
            ErrorCode.CONFLICT,
            `idempotencyKey "${event.idempotencyKey.slice(0, 64)}" was already used for another record (${earlier.quantity} ${earlier.metric})`,
            { field: 'idempotencyKey' },
          );
        const duplicate = earlier !== undefined;
        if (!duplicate) {
          seen.set(recordKey, { metric: event.metric, quantity: event.quantity });
          apply(counter, item);
          changed.set(counter.id, { counter, item });
          records.push({ ...event, periodStart: period.start });
        }
        outcomes.push({ duplicate, usage: usageFiguresOf(allowance, counter, period, counter.included) });
      }
      const notifications = await this.queueThresholdMails(em, [...changed.values()]);
      // Counters whose expired holds the lock dropped are saved too, though nothing was recorded in them.
      const counterRows = [
        ...[...changed.values()].map(({ counter }) => counter),
        ...[...counters.values()].filter((counter) => counter.droppedHolds && !changed.has(counter.id)),
      ];
      const saved = await saveRecordsAndCounters(em, records, counterRows, now);
      if (saved.inserted !== records.length) throw new KeyRace();
      for (const counter of counterRows)
        counter.revision = saved.revisions.get(counter.id) ?? counter.revision;
      return { outcomes, changed: [...changed.values()], recorded: records, notifications };
    });
  }

  /** Tells the account, inside the transaction, when a counter crosses 80% or 100% of its included amount. */
  private async queueThresholdMails(em: EntityManager, changed: ChangedCounter[]): Promise<number> {
    let queued = 0;
    let emails: Map<string, string | null> | null = null;
    for (const { counter, item } of changed) {
      const threshold = thresholdToTell(counter);
      if (threshold === null || counter.included === null) continue;
      counter.thresholdNotified = threshold;
      emails ??= await emailsOf(em, [...new Set(changed.map((entry) => entry.counter.accountId))]);
      await queueThresholdMail(em, this.writing.notifier, {
        counter: { ...counter, included: counter.included },
        threshold,
        allowance: item.allowance,
        allowances: item.allowances,
        recipient: emails.get(counter.accountId) ?? null,
      });
      queued += 1;
    }
    return queued;
  }

  private async afterCommit(result: TransactionResult): Promise<void> {
    const copies: CounterCopy[] = result.changed.map(({ counter }) => ({ ...counter }));
    await this.writing.copies.write(copies, null);
    for (const { counter, item } of result.changed)
      this.writing.publisher.changed(
        counter.accountId,
        usageFiguresOf(item.allowance, counter, item.period, counter.included),
        counter.revision,
      );
    if (this.writing.metrics) {
      const byMetric = new Map<string, number>();
      for (const record of result.recorded)
        byMetric.set(record.metric, (byMetric.get(record.metric) ?? 0) + 1);
      for (const [metric, count] of byMetric) this.writing.metrics.recorded(metric, count);
    }
    if (result.notifications > 0)
      this.writing.logger.info({ mails: result.notifications }, 'usage threshold mails queued');
  }
}

interface ChangedCounter {
  counter: LockedCounter;
  item: PlannedEvent;
}

interface TransactionResult {
  outcomes: RecordOutcome[];
  changed: ChangedCounter[];
  recorded: NewUsageRecord[];
  notifications: number;
}

function counterKeysOf(planned: PlannedEvent[]): CounterKey[] {
  const keys = new Map<string, CounterKey>();
  for (const { event, allowance, period, late } of planned) {
    keys.set(counterKeyOf(event.accountId, event.metric, period.start), {
      accountId: event.accountId,
      metric: event.metric,
      periodStart: period.start,
      periodEnd: period.end,
      kind: allowance.kind,
      included: allowance.included,
      // A past period keeps the rule it had (a trial's use past its allowance is never made billable later).
      overLimit: late ? 'block' : allowance.overLimit,
    });
  }
  return [...keys.values()];
}

/**
 * Applies one use to its locked counter, or throws USAGE_LIMIT_EXCEEDED (which rolls the whole call back).
 * A counter adds up; a gauge takes the level if it is the latest measured, and its peak is the highest level
 * seen, whatever order levels arrive in.
 */
function apply(counter: LockedCounter, { event, allowance, allowances, late }: PlannedEvent): void {
  const next =
    allowance.kind === 'counter'
      ? { used: counter.used + event.quantity, peak: counter.peak + event.quantity, levelAt: counter.levelAt }
      : {
          used: counter.levelAt && event.occurredAt < counter.levelAt ? counter.used : event.quantity,
          peak: Math.max(counter.peak, event.quantity),
          levelAt: counter.levelAt && event.occurredAt < counter.levelAt ? counter.levelAt : event.occurredAt,
        };
  // The period's allowance, as the locked row has it: what the period's fees include (weighed across plan
  // changes), which may differ from the plan's allowance for a whole period.
  const { included } = counter;
  // A metric switched off (an override) takes no use at all, whatever its rule: billing it as overage would
  // charge for what the account was told it may not do.
  if (
    !allowance.enabled &&
    event.quantity > 0 &&
    (allowance.kind === 'counter' || event.quantity > counter.used)
  ) {
    throw metricNotAvailable(allowance, counter.used, event.quantity);
  }
  // A counter may not pass the limit, counting what reservations hold; a gauge may not rise past it (lowering a
  // level already over it, after a downgrade, is always allowed: that is the customer getting back under it).
  const overLimit =
    allowance.kind === 'counter'
      ? event.quantity > 0 && next.used + counter.reserved > (included ?? Number.POSITIVE_INFINITY)
      : event.quantity > (included ?? Number.POSITIVE_INFINITY) && event.quantity > counter.used;
  const rule = late ? counter.overLimit : allowance.overLimit;
  if (included !== null && rule === 'block' && overLimit) {
    throw limitExceeded(allowances, allowance, {
      included,
      used: counter.used,
      reserved: counter.reserved,
      requested: event.quantity,
    });
  }
  counter.used = next.used;
  counter.peak = next.peak;
  counter.levelAt = next.levelAt;
}

/** PostgreSQL's deadlock_detected (40P01): the transaction was rolled back and may simply be run again. */
function isDeadlock(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '40P01';
}
