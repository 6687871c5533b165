import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { BillingError, ErrorCode } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { MetricKey } from '../plans/plan.types';
import {
  isDuplicateMeterEvent,
  METER_CUSTOMER_PAYLOAD_KEY,
  METER_VALUE_PAYLOAD_KEY,
} from '../stripe/meter-events';
import type { StripeClient } from '../stripe/stripe-client';
import {
  nextPassDelayMs,
  overageIdentifier,
  overageOf,
  RETRY_RULES,
  type RetryRules,
  reportTimestamp,
  resendTimestamp,
  retryDelayMs,
  STAMP_RULES,
  type StampRules,
} from './overage-report';
import {
  billingPeriodsOf,
  type ClaimedReport,
  type ClaimMode,
  type DueCounter,
  earliestBilledPeriodEnd,
  findDueCounters,
  lockCounter,
  markFailed,
  markReported,
  dateOf,
  secondsOf,
  writePending,
} from './overage-report-store';
import { PassSchedule } from '../time/pass-schedule';

export interface OverageReporterOptions {
  /** The root EntityManager (`orm.em`); the reporter forks its own. */
  em: EntityManager;
  stripe: StripeClient;
  catalog: PlanCatalog;
  logger: Logger;
  /** Pause between passes (`USAGE_REPORT_INTERVAL_SECONDS`). */
  intervalMs: number;
  /** How long before the earliest open period's end the last pass of that period runs. Default 30 s. */
  closeLeadMs?: number;
  /** When a report may be stamped in the past (`STAMP_RULES`: Stripe's draft hour and 35-day limit). */
  stampRules?: StampRules;
  /** How soon a failed report is tried again (`RETRY_RULES`: from a minute, doubling, up to half an hour). */
  retryRules?: RetryRules;
  /**
   * How long a report being sent is left to the reporter sending it before another may send it again (after a
   * crash mid-send). Longer than one Stripe call with its retries. Default 5 minutes.
   */
  leaseMs?: number;
  /** Most counters one pass handles. Default 500. */
  maxPerPass?: number;
  /** The clock (tests). */
  now?: () => Date;
}

/** What one pass did. */
export interface OverageReportSummary {
  /** Reports Stripe accepted (or had already: it refused a resend as a duplicate). */
  reported: number;
  /** Units those reports added. */
  units: number;
  /** Reports that failed; they stay pending and are sent again, the same, after a back-off. */
  failed: number;
}

/** Stripe took the event now, or had it from an earlier send (a resend refused as a duplicate). */
type Delivery = 'sent' | 'already_delivered';

const MINIMUM_DELAY_MS = 1000;

/**
 * Reports overage to Stripe's Billing Meters, as increases (deltas), so the meter's `sum` over a billing period is
 * that period's overage, which Stripe bills on the invoice that closes the period.
 *
 * Per usage counter whose rule bills overage, the overage so far is max(0, peak − included). When it exceeds
 * what was reported: in a transaction the row is locked (`FOR UPDATE SKIP LOCKED`, so two instances never
 * claim one row at the same time) and the report is written down, the new total (`overage_pending`) with the
 * timestamp it is sent with; after the commit the difference is sent as a meter event whose identifier names
 * the counter and the total; then `overage_reported` takes the total and the pending report is cleared.
 *
 * A report is sent again exactly as first sent (same parameters, so the same idempotency key, and the same
 * identifier) until Stripe has it: after a failure (with a back-off that puts failing reports behind the
 * others), and after a crash (once the lease of the reporter that was sending it runs out). If an earlier send
 * landed, Stripe replays its first answer to the key, or refuses the identifier as a duplicate: both count as
 * sent. The overage reported never goes down: when it falls (an upgrade raised the allowance mid-period)
 * nothing is sent until it rises past what was reported.
 *
 * Runs every `intervalMs`, and once more shortly before the earliest open period ends; `flush()` reports
 * everything due now, `flushAccount()` one account's, before a change that closes its billing period.
 */
export class OverageReporter {
  private readonly em: EntityManager;
  private readonly stripe: StripeClient;
  private readonly catalog: PlanCatalog;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly closeLeadMs: number;
  private readonly stampRules: StampRules;
  private readonly retryRules: RetryRules;
  private readonly leaseMs: number;
  private readonly maxPerPass: number;
  private readonly now: () => Date;
  private readonly schedule = new PassSchedule(
    () => this.nextDelayMs(),
    () => this.regularPass(),
  );

  constructor(options: OverageReporterOptions) {
    this.em = options.em;
    this.stripe = options.stripe;
    this.catalog = options.catalog;
    this.logger = options.logger;
    this.intervalMs = options.intervalMs;
    this.closeLeadMs = options.closeLeadMs ?? 30_000;
    this.stampRules = options.stampRules ?? STAMP_RULES;
    this.retryRules = options.retryRules ?? RETRY_RULES;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.maxPerPass = options.maxPerPass ?? 500;
    this.now = options.now ?? (() => new Date());
  }

  /** Starts the periodic passes (the first one interval after start, or sooner before a period closes). */
  start(): void {
    this.schedule.start();
  }

  /** Stops the passes and waits for one in progress, which finishes the report it is sending. */
  stop(): Promise<void> {
    return this.schedule.stop();
  }

  /**
   * Reports every overage due now (reports waiting out a back-off wait on), to the end even after `stop()`
   * (tests, and a last pass at shutdown).
   */
  async flush(): Promise<OverageReportSummary> {
    return this.reportEach(await this.dueCounters(), { interruptible: false, immediate: false });
  }

  /**
   * Reports every due overage of one account now, failed reports in back-off included, waiting for any row
   * another reporter is claiming. Call it before a change that makes Stripe invoice the account's billing
   * period now (a cancellation now, an interval switch), so that invoice carries the usage.
   *
   * @throws BillingError `STRIPE_ERROR` (retryable) when a report could not be sent: it stays pending and the
   *   regular passes keep sending it, but the invoice made now would not carry it.
   */
  async flushAccount(accountId: string): Promise<OverageReportSummary> {
    const summary = await this.reportEach(await this.dueCounters({ accountId }), {
      interruptible: false,
      immediate: true,
    });
    if (summary.failed > 0) {
      throw new BillingError(
        ErrorCode.STRIPE_ERROR,
        'The usage of the period could not be reported to Stripe yet; try again in a moment',
        { retryable: true, failedReports: summary.failed },
      );
    }
    return summary;
  }

  private async reportEach(
    due: readonly DueCounter[],
    { interruptible, immediate }: { interruptible: boolean } & ClaimMode,
  ): Promise<OverageReportSummary> {
    const summary: OverageReportSummary = { reported: 0, units: 0, failed: 0 };
    for (const counter of due) {
      if (interruptible && this.schedule.stopped) break;
      // A pending report goes first, exactly as it was; then whatever overage came on top of it.
      for (;;) {
        const claimed = await this.claim(counter.id, { immediate });
        if (!claimed) break;
        if (!(await this.send(claimed))) {
          summary.failed += 1;
          break;
        }
        summary.reported += 1;
        summary.units += Math.max(0, claimed.pending - claimed.reported);
      }
    }
    return summary;
  }

  private dueCounters(scope: { accountId?: string } = {}): Promise<DueCounter[]> {
    return findDueCounters(this.em, {
      now: this.now(),
      lateUsageWindowMs: this.stampRules.lateUsageWindowMs,
      maxPerPass: this.maxPerPass,
      ...scope,
    });
  }

  /**
   * Locks the counter, decides what to report and writes it down as pending (the total and the timestamp, and
   * a lease so no other reporter sends it meanwhile), in one short transaction; null when there is nothing to
   * send (any more), or the row is another reporter's now.
   */
  private async claim(counterId: string, mode: ClaimMode): Promise<ClaimedReport | null> {
    const now = this.now();
    return this.em.fork().transactional(async (tx) => {
      const row = await lockCounter(tx, counterId, mode, now);
      if (!row) return null;
      const accountId = String(row.account_id);
      const usagePeriod = { start: dateOf(row.period_start), end: dateOf(row.period_end) };
      const billingPeriods = await billingPeriodsOf(tx, accountId);
      const reported = Number(row.overage_reported);
      let report: Pick<ClaimedReport, 'pending' | 'timestamp' | 'failures'>;
      if (row.overage_pending === null) {
        const overage = overageOf({
          peak: Number(row.peak),
          included: row.included === null ? null : Number(row.included),
          overLimit: row.over_limit === 'bill_overage' ? 'bill_overage' : 'block',
        });
        // Never a negative report: overage that fell (a mid-period upgrade) leaves what was reported as it is.
        if (overage <= reported) return null;
        const timestamp = reportTimestamp(usagePeriod, billingPeriods, now, this.stampRules);
        report = { pending: overage, timestamp, failures: 0 };
      } else {
        const firstStamp =
          row.overage_pending_timestamp === null ? null : secondsOf(row.overage_pending_timestamp);
        const timestamp = resendTimestamp(firstStamp, usagePeriod, billingPeriods, now, this.stampRules);
        if (firstStamp !== null && timestamp !== firstStamp) {
          this.logger.warn(
            { counterId, accountId, firstStamp, timestamp },
            'pending overage report re-stamped: its invoice no longer takes its first timestamp',
          );
        }
        report = { pending: Number(row.overage_pending), timestamp, failures: Number(row.overage_attempts) };
      }
      await writePending(tx, counterId, report, now, new Date(now.getTime() + this.leaseMs));
      return {
        counterId,
        accountId,
        metric: String(row.metric),
        stripeCustomerId: String(row.stripe_customer_id),
        reported,
        ...report,
      };
    });
  }

  /** Sends one claimed report; true when Stripe has it (now or from an earlier send). */
  private async send(report: ClaimedReport): Promise<boolean> {
    const delta = report.pending - report.reported;
    const context = {
      counterId: report.counterId,
      accountId: report.accountId,
      metric: report.metric,
      total: report.pending,
      delta,
    };
    const metered = this.catalog.meteredPrice(report.metric as MetricKey);
    if (!metered) {
      this.logger.error(
        context,
        'overage of a metric without a metered price in plans/plans.yaml: not reported',
      );
      await this.markFailed(report);
      return false;
    }
    if (delta <= 0) {
      // A pending total at or below what was reported: an earlier send landed and was recorded; clear it.
      await this.markReported(report);
      return true;
    }
    const identifier = overageIdentifier(report.counterId, report.pending);
    const params: Stripe.Billing.MeterEventCreateParams = {
      event_name: metered.meterEventName,
      payload: {
        [METER_CUSTOMER_PAYLOAD_KEY]: report.stripeCustomerId,
        [METER_VALUE_PAYLOAD_KEY]: String(delta),
      },
      identifier,
      timestamp: report.timestamp,
    };
    let delivery: Delivery;
    try {
      delivery = await this.deliver(params, identifier);
    } catch (error) {
      this.logger.warn(
        { ...context, identifier, failures: report.failures + 1, err: error },
        'overage report failed; it stays pending and is sent again, the same, after a back-off',
      );
      await this.markFailed(report);
      return false;
    }
    await this.markReported(report);
    this.logger.info(
      { ...context, identifier, timestamp: report.timestamp },
      delivery === 'sent' ? 'overage reported' : 'overage report had already reached Stripe',
    );
    return true;
  }

  /**
   * Sends the meter event. The idempotency key is derived from the parameters, which a resend repeats, so a
   * resend carries the first send's key: Stripe replays the first answer if it has one. Stripe's refusal of an
   * identifier it already holds is recognised here, on the SDK's error (our BillingError keeps no message).
   */
  private deliver(params: Stripe.Billing.MeterEventCreateParams, identifier: string): Promise<Delivery> {
    return this.stripe.call(
      'billing.meterEvents.create',
      async (sdk, options): Promise<Delivery> => {
        try {
          await sdk.billing.meterEvents.create(params, options);
          return 'sent';
        } catch (error) {
          if (isDuplicateMeterEvent(error, identifier)) return 'already_delivered';
          throw error;
        }
      },
      { name: `meter-event:${identifier}`, params },
    );
  }

  private markReported(report: ClaimedReport): Promise<void> {
    return markReported(this.em, report);
  }

  /** Counts the failure and sets when the report is tried next: later with each failure (`retryDelayMs`). */
  private markFailed(report: ClaimedReport): Promise<void> {
    const failures = report.failures + 1;
    const nextAttemptAt = new Date(this.now().getTime() + retryDelayMs(failures, this.retryRules));
    return markFailed(this.em, report, failures, nextAttemptAt);
  }

  /** One pass of the schedule: stops early on `stop()`, logs what it did or why it failed, never throws. */
  private async regularPass(): Promise<void> {
    try {
      const summary = await this.reportEach(await this.dueCounters(), {
        interruptible: true,
        immediate: false,
      });
      if (summary.reported > 0 || summary.failed > 0) this.logger.info({ ...summary }, 'overage pass');
    } catch (error) {
      this.logger.error({ err: error }, 'overage reporting pass failed');
    }
  }

  /** Until the next pass: the interval, or less when a period that bills overage closes sooner. */
  private async nextDelayMs(): Promise<number> {
    const now = this.now();
    try {
      const earliestPeriodEnd = await earliestBilledPeriodEnd(
        this.em,
        new Date(now.getTime() + this.closeLeadMs),
      );
      return nextPassDelayMs({
        now,
        intervalMs: this.intervalMs,
        closeLeadMs: this.closeLeadMs,
        minimumMs: MINIMUM_DELAY_MS,
        earliestPeriodEnd,
      });
    } catch (error) {
      this.logger.error({ err: error }, 'overage reporter could not read the next period end');
      return this.intervalMs;
    }
  }
}
