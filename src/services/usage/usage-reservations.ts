import { BadUserInputError, BillingError, ErrorCode, NotFoundError } from '../../errors';
import type { AccountAllowances, MetricAllowance } from './account-allowances';
import { committedCounterOf, periodOf, ReservationGroups, type ReserveRow } from './reservation-groups';
import { limitExceeded, metricNotAvailable } from './usage-limits';
import { usagePeriodAt } from './usage-period';
import { type UsageFigures, usageFiguresOf } from './usage-reader';
import { isMetricKey, MAX_QUANTITY } from './usage-validation';
import type { UsageWriting } from './usage-writing';

export interface ReserveRequest {
  accountId: string;
  metric: string;
  /** The most the work may use. */
  quantity: number;
  /** A feature the work needs as well (e.g. `api_access`): refused with FEATURE_NOT_IN_PLAN when off. */
  feature?: string | null;
  /** How long the hold lasts if neither committed nor released (default 300, at most 3,600). */
  ttlSeconds?: number | null;
  /** Reserving again with the same key answers the same reservation (a retried request). */
  idempotencyKey?: string | null;
}

export interface Reservation {
  id: string;
  accountId: string;
  metric: string;
  quantity: number;
  expiresAt: Date;
  /** True when the idempotency key had reserved before: this is that reservation. */
  duplicate: boolean;
  /** The metric's usage with this hold (`remaining` counts what is held). */
  usage: UsageFigures;
}

export interface CommitOutcome {
  /** The reservation was committed before: nothing was added. */
  duplicate: boolean;
  usage: UsageFigures;
}

const DEFAULT_TTL_SECONDS = 300;
const MAX_TTL_SECONDS = 3600;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Hard limits that hold however many requests run at once: a caller reserves what a request may use before
 * serving it (refused with USAGE_LIMIT_EXCEEDED if that would pass the allowance, counting what other requests
 * hold), commits what it used after, or releases the hold if the work failed. A hold nobody commits or releases
 * expires by itself after its TTL. Concurrent reserves (and commits) go to PostgreSQL as one statement per group
 * (`usage_reserve_group`, `usage_commit_group`, ADR 0019), so the hot path costs two round trips and no
 * transaction of its own.
 */
export class UsageReservations {
  private readonly groups: ReservationGroups;

  constructor(private readonly writing: UsageWriting) {
    this.groups = new ReservationGroups(writing);
  }

  async reserve(request: ReserveRequest): Promise<Reservation> {
    const { quantity } = request;
    const ttlSeconds = request.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const allowances = await this.writing.gate.allowances(request.accountId);
    const allowance = this.counterAllowance(allowances, request.metric);
    if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY)
      throw new BadUserInputError(`quantity must be a whole number from 1 to ${MAX_QUANTITY}`, 'quantity');
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
      throw new BadUserInputError(
        `ttlSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`,
        'ttlSeconds',
      );
    if (request.idempotencyKey != null && !IDEMPOTENCY_KEY.test(request.idempotencyKey))
      throw new BadUserInputError(
        'idempotencyKey must be 1 to 255 printable ASCII characters without spaces',
        'idempotencyKey',
      );
    if (request.feature) this.requireFeature(allowances, request.feature);
    if (!allowance.enabled) {
      this.writing.metrics?.rejected(allowance.metric, ErrorCode.USAGE_LIMIT_EXCEEDED);
      throw metricNotAvailable(allowance, 0, quantity);
    }
    const now = this.writing.clock.now();
    const period = usagePeriodAt(allowances.billingPeriod, now);
    const row = await this.groups.reserves.submit({
      reservationId: crypto.randomUUID(),
      accountId: request.accountId,
      metric: allowance.metric,
      periodStart: period.start,
      periodEnd: period.end,
      included: allowance.included,
      overLimit: allowance.overLimit,
      quantity,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      idempotencyKey: request.idempotencyKey ?? null,
    });
    const figures = figuresOf(row);
    if (row.outcome === 'limit') {
      this.writing.metrics?.rejected(allowance.metric, ErrorCode.USAGE_LIMIT_EXCEEDED);
      throw limitExceeded(allowances, allowance, {
        ...figures,
        included: figures.included ?? 0,
        requested: quantity,
      });
    }
    return {
      id: String(row.reservation_id),
      accountId: request.accountId,
      metric: allowance.metric,
      quantity,
      expiresAt: new Date(row.expires_at as string | Date),
      duplicate: row.outcome === 'duplicate',
      usage: withHeld(usageFiguresOf(allowance, figures, periodOf(row), figures.included), figures),
    };
  }

  /** Records what the work used (`quantity`, 0 or more) and gives the rest of the hold back. */
  async commit(accountId: string, reservationId: string, quantity: number): Promise<CommitOutcome> {
    if (!UUID.test(reservationId)) throw new NotFoundError('The reservation');
    if (!Number.isSafeInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY)
      throw new BadUserInputError(`quantity must be a whole number from 0 to ${MAX_QUANTITY}`, 'quantity');
    // The allowances first (cached): the group publishes the new figures right after its commit.
    const allowances = await this.writing.gate.allowances(accountId);
    const { row, shared } = await this.groups.commits.submit({
      reservationId,
      accountId,
      quantity,
      allowances,
    });
    if (row.outcome === 'unknown') throw new NotFoundError('The reservation');
    if (row.outcome === 'released')
      throw new BillingError(
        ErrorCode.CONFLICT,
        'The reservation was released: reserve again for the work it was for',
      );
    await shared;
    const allowance = this.counterAllowance(allowances, row.metric);
    const counter = committedCounterOf(row, accountId);
    return {
      duplicate: row.outcome === 'duplicate',
      usage: usageFiguresOf(allowance, counter, periodOf(row), counter.included),
    };
  }

  /** Gives the hold back; false when it had already been committed, released or had expired. */
  async release(accountId: string, reservationId: string): Promise<boolean> {
    const released = await this.releaseIfKnown(accountId, reservationId);
    if (released === null) throw new NotFoundError('The reservation');
    return released;
  }

  /**
   * As `release`, but null when the id is not one of the account's metric reservations (it may be a model call's
   * token hold: `releaseUsage` then asks the credits), so the common case costs one statement and no lookup.
   */
  async releaseIfKnown(accountId: string, reservationId: string): Promise<boolean | null> {
    if (!UUID.test(reservationId)) return null;
    const outcome = await this.groups.releases.submit({ reservationId, accountId });
    if (outcome === 'unknown') return null;
    return outcome === 'released';
  }

  private counterAllowance(allowances: AccountAllowances, metric: string): MetricAllowance {
    const allowance = isMetricKey(metric) ? allowances.metrics.get(metric) : undefined;
    if (!allowance)
      throw new BadUserInputError(
        `The ${allowances.plan.name} plan has no ${metric.slice(0, 64)} metric`,
        'metric',
      );
    if (allowance.kind !== 'counter')
      throw new BadUserInputError(
        `${metric} is a level, not a count: record it with recordUsage instead of reserving it`,
        'metric',
      );
    return allowance;
  }

  private requireFeature(allowances: AccountAllowances, feature: string): void {
    const enabled = allowances.features.get(feature);
    if (enabled === undefined)
      throw new BadUserInputError(`Unknown feature "${feature.slice(0, 64)}"`, 'feature');
    if (!enabled)
      throw new BillingError(
        ErrorCode.FEATURE_NOT_IN_PLAN,
        `${feature} is not included in the ${allowances.plan.name} plan`,
        { feature },
      );
  }
}

function figuresOf(row: Pick<ReserveRow, 'used' | 'reserved' | 'included'>) {
  return {
    used: Number(row.used),
    peak: Number(row.used),
    reserved: Number(row.reserved),
    included: row.included === null ? null : Number(row.included),
  };
}

/** A hold takes from what is left: `remaining` counts what reservations hold. */
function withHeld(usage: UsageFigures, figures: { reserved: number }): UsageFigures {
  return usage.remaining === null
    ? usage
    : { ...usage, remaining: Math.max(0, usage.remaining - figures.reserved) };
}
