import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer } from '../../entities';
import type { Notifier } from '../notifications/notifier';
import type { MetricKey } from '../plans/plan.types';
import type { AccountAllowances, MetricAllowance } from './account-allowances';

/** Percentages of the included amount at which the account is told, once per period each. */
const THRESHOLDS = [80, 100] as const;

const METRIC_LABELS: Record<MetricKey, string> = {
  ai_requests: 'AI requests',
  storage_mb: 'MB of storage',
  seats: 'seats',
};

/** What of a counter decides its threshold mail. */
export interface ThresholdCounter {
  accountId: string;
  metric: string;
  periodStart: Date;
  periodEnd: Date;
  peak: number;
  included: number | null;
  thresholdNotified: number;
}

/** The highest threshold the counter's peak has reached and not been told of yet, or null. */
export function thresholdToTell(counter: ThresholdCounter): number | null {
  const { included } = counter;
  if (included === null || included <= 0) return null;
  const crossed = THRESHOLDS.filter((percent) => counter.peak * 100 >= percent * included).at(-1);
  return crossed === undefined || crossed <= counter.thresholdNotified ? null : crossed;
}

/** Queues the threshold mail (in the caller's transaction): the outbox sends it after the commit. */
export async function queueThresholdMail(
  em: EntityManager,
  notifier: Notifier,
  mail: {
    counter: ThresholdCounter & { included: number };
    threshold: number;
    allowance: MetricAllowance;
    allowances: AccountAllowances;
    recipient: string | null;
  },
): Promise<void> {
  const { counter, threshold, allowance, allowances, recipient } = mail;
  await notifier.enqueue(em, {
    kind: 'usage_threshold',
    accountId: counter.accountId,
    recipient,
    data: {
      metric: counter.metric,
      metricLabel: METRIC_LABELS[allowance.metric],
      thresholdPercent: threshold,
      used: counter.peak,
      included: counter.included,
      periodStart: counter.periodStart,
      periodEnd: counter.periodEnd,
      planName: allowances.plan.name,
      overLimit: allowance.overLimit,
    },
  });
}

/** The accounts' email addresses (the recipients of their mails). */
export async function emailsOf(em: EntityManager, accountIds: string[]): Promise<Map<string, string | null>> {
  const customers = await em.find(
    BillingCustomer,
    { accountId: { $in: accountIds } },
    { fields: ['accountId', 'email'] },
  );
  return new Map(customers.map((customer) => [customer.accountId, customer.email]));
}
