/**
 * `/_emulator/billing/config`: emulator-only billing settings. Body (form or JSON):
 * `retry_schedule[]` (seconds between payment tries; `retrySchedule` accepted too),
 * `final_status` (`canceled|unpaid|past_due`), `incomplete_expiry_seconds`,
 * `trial_will_end_seconds`, `finalization_grace_seconds`. `reset=true` restores the defaults first.
 */
import { invalidRequest } from '../../core/errors';
import type { Route } from '../../core/http';
import { type BillingConfig, billingConfig, DEFAULT_BILLING_CONFIG, setBillingConfig } from './config';
import { validateRetryDelays } from '../math';

export const routes: Route[] = [
  { method: 'GET', path: '/_emulator/billing/config', handler: ({ emulator }) => billingConfig(emulator) },
  {
    method: 'POST',
    path: '/_emulator/billing/config',
    handler: ({ emulator, input, params }) => {
      const patch: Partial<BillingConfig> = input.bool('reset') ? { ...DEFAULT_BILLING_CONFIG } : {};
      const rawSchedule = params.retry_schedule ?? params.retrySchedule;
      if (rawSchedule !== undefined) {
        const delays =
          rawSchedule === ''
            ? []
            : validateRetryDelays(Array.isArray(rawSchedule) ? rawSchedule : [rawSchedule]);
        if (!delays)
          throw invalidRequest('retry_schedule must be a list of positive integer seconds', 'retry_schedule');
        patch.retrySchedule = delays;
      }
      const final =
        input.oneOf('final_status', ['canceled', 'unpaid', 'past_due'] as const) ??
        input.oneOf('finalStatus', ['canceled', 'unpaid', 'past_due'] as const);
      if (final) patch.finalStatus = final;
      const expiry = input.int('incomplete_expiry_seconds');
      if (expiry !== undefined) patch.incompleteExpirySeconds = expiry;
      const twe = input.int('trial_will_end_seconds');
      if (twe !== undefined) patch.trialWillEndSeconds = twe;
      const grace = input.int('finalization_grace_seconds');
      if (grace !== undefined && grace < 0)
        throw invalidRequest('finalization_grace_seconds must be 0 or more', 'finalization_grace_seconds');
      if (grace !== undefined) patch.finalizationGraceSeconds = grace;
      return setBillingConfig(emulator, patch);
    },
  },
];
