/**
 * Emulator-only billing settings (`POST /_emulator/billing/config`), kept in `store.meta` so they
 * survive `--data` reloads and are reset by `/_emulator/reset`.
 */
import { DEFAULT_RETRY_POLICY, type FinalRetryStatus } from '../math';
import type { Emulator } from '../context';

export interface BillingConfig {
  /** Seconds between payment tries of a failed subscription invoice (smart-retry stand-in). */
  retrySchedule: number[];
  /** Subscription status after the last try fails. */
  finalStatus: FinalRetryStatus;
  /** Seconds before an unpaid `incomplete` subscription expires (Stripe: 23 hours). */
  incompleteExpirySeconds: number;
  /** Seconds before a trial end at which `customer.subscription.trial_will_end` is sent. */
  trialWillEndSeconds: number;
  /**
   * Seconds a subscription's cycle invoice stays a draft before it is finalized and charged: Stripe's
   * configurable finalization grace period, 1 hour by default
   * (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
   */
  finalizationGraceSeconds: number;
}

const KEY = 'billingConfig';

export const DEFAULT_BILLING_CONFIG: BillingConfig = {
  retrySchedule: [...DEFAULT_RETRY_POLICY.delays],
  finalStatus: DEFAULT_RETRY_POLICY.finalStatus,
  incompleteExpirySeconds: 23 * 3600,
  trialWillEndSeconds: 3 * 86_400,
  finalizationGraceSeconds: 3600,
};

export function billingConfig(emulator: Emulator): BillingConfig {
  const stored = emulator.store.meta[KEY] as Partial<BillingConfig> | undefined;
  return { ...DEFAULT_BILLING_CONFIG, ...(stored ?? {}) };
}

export function setBillingConfig(emulator: Emulator, patch: Partial<BillingConfig>): BillingConfig {
  const next = { ...billingConfig(emulator), ...patch };
  emulator.store.meta[KEY] = next;
  emulator.store.onChange();
  return next;
}
