import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../database/database';
import { BillingCustomer } from '../../entities';
import { BadUserInputError, BillingError, ErrorCode } from '../../errors';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { Notifier } from '../notifications/notifier';
import type { MetricKey } from '../plans/plan.types';
import type { AccountAllowances, MetricAllowance } from './account-allowances';
import type { FeatureGate } from './feature-gate';
import type { CounterCopy, UsageCopies } from './usage-copies';
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
import type { UsagePublisher } from './usage-publisher';
import { type UsageFigures, usageFiguresOf } from './usage-reader';
import { type UsageEvent, type ValidUsageEvent, validateUsageEvents } from './usage-validation';

export interface RecordOutcome {
  /** The idempotency key was already recorded: nothing was added. */
  duplicate: boolean;
  /** The metric's usage right after this record. */
  usage: UsageFigures;
}

/** What the meter reports to monitoring (the metrics registry fits). */
export interface UsageMetricsSink {
  recorded(metric: string, count: number): void;
  rejected(metric: string, reason: string): void;
}

/** Percentages of the included amount at which the account is told, once per period each. */
const THRESHOLDS = [80, 100] as const;

const METRIC_LABELS: Record<MetricKey, string> = {
  ai_requests: 'AI requests',
  storage_mb: 'MB of storage',
  seats: 'seats',
};

/** Another transaction recorded one of our keys first; the batch is run again and sees it as a duplicate. */
class KeyRace extends Error {}

interface PlannedEvent {
  event: ValidUsageEvent;
  allowance: MetricAllowance;
  allowances: AccountAllowances;
  period: UsagePeriod;
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
  constructor(
    private readonly orm: Orm,
    private readonly gate: FeatureGate,
    private readonly copies: UsageCopies,
    private readonly publisher: UsagePublisher,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly metrics: UsageMetricsSink | null = null,
  ) {}

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
    const now = this.clock.now();
    let valid: ValidUsageEvent[];
    try {
      valid = validateUsageEvents(events, now);
    } catch (error) {
      this.metrics?.rejected(events[0]?.metric ?? 'unknown', ErrorCode.BAD_USER_INPUT);
      throw error;
    }
    const planned = await this.plan(valid, now);
    let result: TransactionResult;
    try {
      result = await this.transact(planned, now).catch(async (error: unknown) => {
        if (!(error instanceof KeyRace) && !isDeadlock(error)) throw error;
        return this.transact(planned, this.clock.now()).catch((again: unknown) => {
          if (!(again instanceof KeyRace) && !isDeadlock(again)) throw again;
          throw new BillingError(
            ErrorCode.CONFLICT,
            'Another record with one of these idempotency keys is being made at the same moment: retry',
          );
        });
      });
    } catch (error) {
      if (error instanceof BillingError && error.extensions.code === ErrorCode.USAGE_LIMIT_EXCEEDED)
        this.metrics?.rejected(String(error.extensions.metric), ErrorCode.USAGE_LIMIT_EXCEEDED);
      throw error;
    }
    await this.afterCommit(result);
    return result.outcomes;
  }

  private async plan(events: ValidUsageEvent[], now: Date): Promise<PlannedEvent[]> {
    const accounts = new Map<string, AccountAllowances>();
    for (const accountId of new Set(events.map((event) => event.accountId)))
      accounts.set(accountId, await this.gate.allowances(accountId));
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
      return { event, allowance, allowances, period: periodOf(allowances, event.occurredAt, now) };
    });
  }

  private async transact(planned: PlannedEvent[], now: Date): Promise<TransactionResult> {
    return this.orm.em.fork().transactional(async (em) => {
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
        outcomes.push({ duplicate, usage: usageFiguresOf(allowance, counter, period) });
      }
      const notifications = await this.queueThresholdMails(em, [...changed.values()]);
      const counterRows = [...changed.values()].map(({ counter }) => counter);
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
      const { included } = item.allowance;
      if (included === null || included <= 0) continue;
      const crossed = THRESHOLDS.filter((percent) => counter.peak * 100 >= percent * included).at(-1);
      if (crossed === undefined || crossed <= counter.thresholdNotified) continue;
      counter.thresholdNotified = crossed;
      emails ??= await emailsOf(em, [...new Set(changed.map((entry) => entry.counter.accountId))]);
      await this.notifier.enqueue(em, {
        kind: 'usage_threshold',
        accountId: counter.accountId,
        recipient: emails.get(counter.accountId) ?? null,
        data: {
          metric: counter.metric,
          metricLabel: METRIC_LABELS[item.event.metric],
          thresholdPercent: crossed,
          used: counter.peak,
          included,
          periodStart: counter.periodStart,
          periodEnd: counter.periodEnd,
          planName: item.allowances.plan.name,
          overLimit: item.allowance.overLimit,
        },
      });
      queued += 1;
    }
    return queued;
  }

  private async afterCommit(result: TransactionResult): Promise<void> {
    const copies: CounterCopy[] = result.changed.map(({ counter }) => ({ ...counter }));
    await this.copies.write(copies, null);
    for (const { counter, item } of result.changed)
      this.publisher.changed(counter.accountId, usageFiguresOf(item.allowance, counter, item.period));
    if (this.metrics) {
      const byMetric = new Map<string, number>();
      for (const record of result.recorded)
        byMetric.set(record.metric, (byMetric.get(record.metric) ?? 0) + 1);
      for (const [metric, count] of byMetric) this.metrics.recorded(metric, count);
    }
    if (result.notifications > 0)
      this.logger.info({ mails: result.notifications }, 'usage threshold mails queued');
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
  for (const { event, allowance, period } of planned) {
    keys.set(counterKeyOf(event.accountId, event.metric, period.start), {
      accountId: event.accountId,
      metric: event.metric,
      periodStart: period.start,
      periodEnd: period.end,
      kind: allowance.kind,
      included: allowance.included,
      overLimit: allowance.overLimit,
    });
  }
  return [...keys.values()];
}

/**
 * Applies one use to its locked counter, or throws USAGE_LIMIT_EXCEEDED (which rolls the whole call back).
 * A counter adds up; a gauge takes the level if it is the latest measured, and its peak is the highest level
 * seen, whatever order levels arrive in.
 */
function apply(counter: LockedCounter, { event, allowance, allowances }: PlannedEvent): void {
  const next =
    allowance.kind === 'counter'
      ? { used: counter.used + event.quantity, peak: counter.peak + event.quantity, levelAt: counter.levelAt }
      : {
          used: counter.levelAt && event.occurredAt < counter.levelAt ? counter.used : event.quantity,
          peak: Math.max(counter.peak, event.quantity),
          levelAt: counter.levelAt && event.occurredAt < counter.levelAt ? counter.levelAt : event.occurredAt,
        };
  const { included } = allowance;
  // A metric switched off (an override) takes no use at all, whatever its rule: billing it as overage would
  // charge for what the account was told it may not do.
  if (
    !allowance.enabled &&
    event.quantity > 0 &&
    (allowance.kind === 'counter' || event.quantity > counter.used)
  ) {
    throw new BillingError(
      ErrorCode.USAGE_LIMIT_EXCEEDED,
      `${event.metric} is not available on this account`,
      { metric: event.metric, limit: 0, used: counter.used, requested: event.quantity },
    );
  }
  // A counter may not pass the limit; a gauge may not rise past it (lowering a level already over it, after a
  // downgrade, is always allowed: that is the customer getting back under the limit).
  const overLimit =
    allowance.kind === 'counter'
      ? event.quantity > 0 && next.used > (included ?? Number.POSITIVE_INFINITY)
      : event.quantity > (included ?? Number.POSITIVE_INFINITY) && event.quantity > counter.used;
  if (included !== null && allowance.overLimit === 'block' && overLimit) {
    throw new BillingError(
      ErrorCode.USAGE_LIMIT_EXCEEDED,
      allowance.kind === 'counter'
        ? `Usage limit reached: the ${allowances.plan.name} plan includes ${included} ${event.metric} per period and ${counter.used} are used`
        : `Usage limit reached: the ${allowances.plan.name} plan allows at most ${included} ${event.metric}`,
      { metric: event.metric, limit: included, used: counter.used, requested: event.quantity },
    );
  }
  counter.used = next.used;
  counter.peak = next.peak;
  counter.levelAt = next.levelAt;
}

/** PostgreSQL's deadlock_detected (40P01): the transaction was rolled back and may simply be run again. */
function isDeadlock(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '40P01';
}

/**
 * The usage period a use counts in: the one it happened in, except that a use dated before the account's
 * current period (recorded late, just after a renewal) counts in the current one. Its own period may be over,
 * invoiced, or not one the counters know (a trial, an interval change): counted now, it is billed one period
 * late at worst, never lost and never given a fresh allowance of its own.
 */
function periodOf(allowances: AccountAllowances, occurredAt: Date, now: Date): UsagePeriod {
  const current = usagePeriodAt(allowances.billingPeriod, now);
  return occurredAt < current.start ? current : usagePeriodAt(allowances.billingPeriod, occurredAt);
}

async function emailsOf(em: EntityManager, accountIds: string[]): Promise<Map<string, string | null>> {
  const customers = await em.find(
    BillingCustomer,
    { accountId: { $in: accountIds } },
    { fields: ['accountId', 'email'] },
  );
  return new Map(customers.map((customer) => [customer.accountId, customer.email]));
}
