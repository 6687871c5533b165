import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { BillingError, ErrorCode } from '../../errors';
import type { Logger } from '../logger';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { MetricKey } from '../plans/plan.types';
import { METER_CUSTOMER_PAYLOAD_KEY, METER_VALUE_PAYLOAD_KEY } from '../stripe/catalog-meters';
import type { StripeClient } from '../stripe/stripe-client';
import { nextPassDelayMs, overageIdentifier, overageOf, reportTimestamp } from './overage-report';

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
  /**
   * How long after a period's end its overage is still reported. Stripe drafts a period's invoice at its end and
   * finalizes it about an hour later (its meter grace period); a report stamped inside the period still counts
   * until then. Default 1 hour.
   */
  lateReportMs?: number;
  /** Most counters one pass handles. Default 500. */
  maxPerPass?: number;
  /** The clock (tests). */
  now?: () => Date;
}

/** What one pass did. */
export interface OverageReportSummary {
  /** Reports Stripe accepted (or had already: `duplicate_meter_event`). */
  reported: number;
  /** Units those reports added. */
  units: number;
  /** Reports that failed; they stay pending and are sent again, with the same identifier, next pass. */
  failed: number;
}

interface DueCounter {
  id: string;
}

/** A counter claimed for a report: the total the report raises it to is stored as `overage_pending`. */
interface ClaimedReport {
  counterId: string;
  accountId: string;
  metric: string;
  periodStart: Date;
  periodEnd: Date;
  stripeCustomerId: string;
  reported: number;
  pending: number;
}

type Row = Record<string, unknown>;

const MINIMUM_DELAY_MS = 1000;

/**
 * Reports overage to Stripe's Billing Meters, as increases (deltas), so the meter's `sum` over a period is that
 * period's overage, which Stripe bills on the invoice that closes the period.
 *
 * Per usage counter whose rule bills overage, the overage so far is max(0, peak − included). When it exceeds
 * what was reported: in a transaction the row is locked (`FOR UPDATE SKIP LOCKED`, so two instances never
 * report one row at the same time) and the new total is written to `overage_pending`; after the commit the
 * difference is sent as a meter event whose identifier names the counter and the total; then
 * `overage_reported` takes the total and `overage_pending` is cleared. A row found with a pending total (a crash,
 * or a failed send) is sent again first, with the same identifier and value: Stripe drops it if the first one
 * landed (`duplicate_meter_event`, which counts as sent). The overage reported never goes down: when it falls
 * (an upgrade raised the allowance mid-period) nothing is sent until it rises past what was reported.
 *
 * Runs every `intervalMs`, and once more shortly before the earliest open period ends; `flush()` reports
 * everything due now.
 */
export class OverageReporter {
  private readonly em: EntityManager;
  private readonly stripe: StripeClient;
  private readonly catalog: PlanCatalog;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly closeLeadMs: number;
  private readonly lateReportMs: number;
  private readonly maxPerPass: number;
  private readonly now: () => Date;

  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private scheduling: Promise<void> | null = null;
  private stopping = false;

  constructor(options: OverageReporterOptions) {
    this.em = options.em;
    this.stripe = options.stripe;
    this.catalog = options.catalog;
    this.logger = options.logger;
    this.intervalMs = options.intervalMs;
    this.closeLeadMs = options.closeLeadMs ?? 30_000;
    this.lateReportMs = options.lateReportMs ?? 3_600_000;
    this.maxPerPass = options.maxPerPass ?? 500;
    this.now = options.now ?? (() => new Date());
  }

  /** Starts the periodic passes (the first one interval after start, or sooner before a period closes). */
  start(): void {
    if (this.scheduling || this.stopping) return;
    this.scheduleNext();
  }

  /** Stops the passes and waits for one in progress, which finishes the report it is sending. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.scheduling;
    await this.running;
  }

  /** Reports every overage due now, to the end even after `stop()` (tests, and a last pass at shutdown). */
  async flush(): Promise<OverageReportSummary> {
    return this.runPass({ interruptible: false });
  }

  /**
   * Reports the account's overage due now (for now: every account's, until per-account passes land), and fails
   * with a retryable STRIPE_ERROR if any report could not be sent.
   */
  async flushAccount(_accountId: string): Promise<OverageReportSummary> {
    const summary = await this.flush();
    if (summary.failed > 0)
      throw new BillingError(
        ErrorCode.STRIPE_ERROR,
        'The usage of the period could not be reported to Stripe: try again',
        {
          retryable: true,
        },
      );
    return summary;
  }

  private async runPass({ interruptible }: { interruptible: boolean }): Promise<OverageReportSummary> {
    const summary: OverageReportSummary = { reported: 0, units: 0, failed: 0 };
    const due = await this.dueCounters();
    for (const counter of due) {
      if (interruptible && this.stopping) break;
      // A pending report goes first, exactly as it was; then whatever overage came on top of it.
      for (;;) {
        const claimed = await this.claim(counter.id);
        if (!claimed) break;
        if (!(await this.send(claimed))) {
          summary.failed += 1;
          break;
        }
        summary.reported += 1;
        summary.units += claimed.pending - claimed.reported;
      }
    }
    return summary;
  }

  /**
   * Counters with overage to report: a pending report, or more overage than reported, in a period still open or
   * closed less than `lateReportMs` ago, of an account with a Stripe customer that is not deleted (the others are
   * skipped: there is nobody to bill).
   */
  private async dueCounters(): Promise<DueCounter[]> {
    const notBefore = new Date(this.now().getTime() - this.lateReportMs);
    return this.em.fork().execute<DueCounter[]>(
      `select c."id" from "usage_counter" c
         join "billing_customer" b on b."account_id" = c."account_id"
              and b."stripe_customer_id" is not null and b."deleted_at" is null
        where c."period_end" > ?
          and (c."overage_pending" is not null
               or (c."over_limit" = 'bill_overage' and c."included" is not null
                   and c."peak" - c."included" > c."overage_reported"))
        order by c."period_end", c."id"
        limit ?`,
      [notBefore, this.maxPerPass],
      'all',
    );
  }

  /**
   * Locks the counter (skipping it when another reporter holds it), decides the total to report and records it
   * as pending, in one short transaction; null when there is nothing to send (any more).
   */
  private async claim(counterId: string): Promise<ClaimedReport | null> {
    return this.em.fork().transactional(async (tx) => {
      const rows = await tx.execute<Row[]>(
        `select c.*, b."stripe_customer_id" from "usage_counter" c
           join "billing_customer" b on b."account_id" = c."account_id"
          where c."id" = ? and b."stripe_customer_id" is not null and b."deleted_at" is null
          for update of c skip locked`,
        [counterId],
        'all',
      );
      const row = rows[0];
      if (!row) return null;
      const reported = Number(row.overage_reported);
      let pending = row.overage_pending === null ? null : Number(row.overage_pending);
      if (pending === null) {
        const overage = overageOf({
          peak: Number(row.peak),
          included: row.included === null ? null : Number(row.included),
          overLimit: row.over_limit === 'bill_overage' ? 'bill_overage' : 'block',
        });
        // Never a negative report: overage that fell (a mid-period upgrade) leaves what was reported as it is.
        if (overage <= reported) return null;
        pending = overage;
        await tx.execute(
          `update "usage_counter" set "overage_pending" = ?, "updated_at" = now() where "id" = ?`,
          [pending, counterId],
          'run',
        );
      }
      return {
        counterId,
        accountId: String(row.account_id),
        metric: String(row.metric),
        periodStart: new Date(row.period_start as string | Date),
        periodEnd: new Date(row.period_end as string | Date),
        stripeCustomerId: String(row.stripe_customer_id),
        reported,
        pending,
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
      timestamp: reportTimestamp(report.periodStart, report.periodEnd, this.now()),
    };
    try {
      await this.stripe.call(
        'billing.meterEvents.create',
        (sdk, options) => sdk.billing.meterEvents.create(params, options),
        { name: `meter-event:${identifier}`, params },
      );
    } catch (error) {
      if (!isDuplicateMeterEvent(error)) {
        this.logger.warn(
          { ...context, err: error },
          'overage report failed; it stays pending and is sent again',
        );
        return false;
      }
      this.logger.info({ ...context, identifier }, 'overage report had already reached Stripe');
    }
    await this.markReported(report);
    this.logger.info({ ...context, identifier }, 'overage reported');
    return true;
  }

  private async markReported(report: ClaimedReport): Promise<void> {
    await this.em.fork().execute(
      `update "usage_counter"
          set "overage_reported" = greatest("overage_reported", ?), "overage_pending" = null, "updated_at" = now()
        where "id" = ? and "overage_pending" = ?`,
      [report.pending, report.counterId, report.pending],
      'run',
    );
  }

  private scheduleNext(): void {
    this.scheduling = this.nextDelayMs()
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'overage reporter could not read the next period end');
        return this.intervalMs;
      })
      .then((delayMs) => {
        if (this.stopping) return;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.running = this.runPass({ interruptible: true })
            .then((summary) => {
              if (summary.reported > 0 || summary.failed > 0)
                this.logger.info({ ...summary }, 'overage pass');
            })
            .catch((error: unknown) => this.logger.error({ err: error }, 'overage reporting pass failed'))
            .finally(() => {
              this.running = null;
              if (!this.stopping) this.scheduleNext();
            });
        }, delayMs);
        // The reporter never keeps the process alive on its own.
        this.timer.unref();
      });
  }

  private async nextDelayMs(): Promise<number> {
    const now = this.now();
    const rows = await this.em.fork().execute<Array<{ next_end: Date | string | null }>>(
      `select min("period_end") as next_end from "usage_counter"
        where "over_limit" = 'bill_overage' and "included" is not null and "period_end" > ?`,
      [new Date(now.getTime() + this.closeLeadMs)],
      'all',
    );
    const nextEnd = rows[0]?.next_end;
    return nextPassDelayMs({
      now,
      intervalMs: this.intervalMs,
      closeLeadMs: this.closeLeadMs,
      minimumMs: MINIMUM_DELAY_MS,
      earliestPeriodEnd: nextEnd ? new Date(nextEnd) : null,
    });
  }
}

/** Stripe's answer to an identifier it already has: the earlier send landed. */
function isDuplicateMeterEvent(error: unknown): boolean {
  return error instanceof BillingError && error.extensions.stripeCode === 'duplicate_meter_event';
}
