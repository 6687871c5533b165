import type { EntityManager } from '@mikro-orm/postgresql';
import type { Knex } from 'knex';
import type { OverLimitRule } from '../../entities';
import type { MetricKind } from '../plans/plan.types';
import { type CounterKey, type LockedCounter, lockCountersAndFindRecorded } from './usage-ledger';
import type { UsagePeriod } from './usage-period';

/** A metric whose allowance for a whole period changes now (null = unlimited). */
export interface AllowanceChange {
  metric: string;
  kind: MetricKind;
  /** The allowance in force until now. */
  from: number | null;
  /** The allowance from now on. */
  to: number | null;
  /** The rule past the allowance from now on. */
  overLimit: OverLimitRule;
}

export interface SettlementRequest {
  accountId: string;
  /** The account's usage period now. */
  period: UsagePeriod;
  changes: AllowanceChange[];
  at: Date;
  /**
   * Whether `from` governed this same usage period until now (the same subscription, or the free plan before and
   * after). Then a metric without a counter yet gets one at `from` before it is weighed; otherwise the period
   * starts afresh at `to`.
   */
  samePeriod: boolean;
}

/**
 * When an account's allowance of a metric changes inside a usage period (an upgrade, a downgrade an admin forces,
 * the end of a grace period, an override), the period's allowance becomes the time-weighted sum of each allowance
 * over the part of the period it was in force: what the fees paid for the period bought, neither more (a
 * downgrade with a credit for unused time keeps no more of the old allowance than was paid for) nor less. A
 * capacity (a gauge with a hard limit, such as seats) is not consumed over time: it takes the new limit at once.
 *
 * Runs in the caller's transaction, after the account's entitlements are written, under the counters' row locks
 * (the same the usage ledger takes), so a use recorded at the same moment is checked against one figure or the
 * other, never a mix.
 */
export async function settleAllowances(em: EntityManager, request: SettlementRequest): Promise<number> {
  const changes = request.changes.filter((change) => change.from !== change.to);
  if (changes.length === 0) return 0;
  const keys: CounterKey[] = changes.map((change) => ({
    accountId: request.accountId,
    metric: change.metric,
    kind: change.kind,
    periodStart: request.period.start,
    periodEnd: request.period.end,
    included: request.samePeriod ? change.from : change.to,
    overLimit: change.overLimit,
  }));
  const { counters } = await lockCountersAndFindRecorded(em, keys, [], request.at);
  const byMetric = new Map(changes.map((change) => [change.metric, change]));
  const settled = [...counters.values()].flatMap((counter) => {
    const change = byMetric.get(counter.metric) as AllowanceChange;
    if (counter.planIncluded === change.to && !counter.droppedHolds) return [];
    return [{ counter, included: settledAllowance(counter, change, request.period, request.at) }];
  });
  if (settled.length === 0) return 0;
  await transactionOf(em).raw(
    `update usage_counter as c
        set included = v.included, plan_included = v.plan_included, reserved = v.reserved,
            revision = c.revision + 1, updated_at = ?
       from jsonb_to_recordset(?::jsonb) as v(id uuid, included bigint, plan_included bigint, reserved bigint)
      where c.id = v.id`,
    [
      request.at,
      JSON.stringify(
        settled.map(({ counter, included }) => ({
          id: counter.id,
          included,
          plan_included: byMetric.get(counter.metric)?.to ?? null,
          reserved: counter.reserved,
        })),
      ),
    ],
  );
  return settled.length;
}

/** The period's allowance once `change` takes effect at `at` (see `settleAllowances`). */
export function settledAllowance(
  counter: Pick<LockedCounter, 'included' | 'planIncluded' | 'used'>,
  change: Pick<AllowanceChange, 'kind' | 'to' | 'overLimit'>,
  period: UsagePeriod,
  at: Date,
): number | null {
  if (change.to === null) return null;
  if (change.kind === 'gauge' && change.overLimit === 'block') return change.to;
  if (counter.planIncluded === change.to) return counter.included;
  const remaining = share(change.to, period, at);
  // Unlimited until now: everything used so far was included.
  if (counter.included === null || counter.planIncluded === null) return counter.used + remaining;
  return Math.max(0, counter.included - share(counter.planIncluded, period, at) + remaining);
}

/**
 * `allowance` × the part of the period still to come after `at`, rounded to the nearest unit (halves up).
 * Integers throughout: allowance × milliseconds can pass 2^53.
 */
function share(allowance: number, period: UsagePeriod, at: Date): number {
  const length = BigInt(period.end.getTime() - period.start.getTime());
  if (length <= 0n) return 0;
  const clamped = Math.min(period.end.getTime(), Math.max(period.start.getTime(), at.getTime()));
  const left = BigInt(period.end.getTime() - clamped);
  return Number((BigInt(allowance) * left * 2n + length) / (2n * length));
}

function transactionOf(em: EntityManager): Knex.Transaction {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  if (!transaction) throw new Error('Allowances are settled inside a transaction (em.transactional)');
  return transaction;
}
