import Stripe from 'stripe';
import { apiBaseOptions } from '../services/stripe/stripe-client';

export interface CatalogSyncTarget {
  secretKey: string;
  /** Another server than Stripe's (the emulator), or null for Stripe itself. */
  apiBase: string | null;
}

/**
 * The `stripe` SDK instance `syncCatalog` runs with, outside the service: `npm run stripe:sync` and the
 * `npm run dev` supervisor. Pointed at `apiBase` with host/port/protocol, two network retries (every sync
 * write carries an idempotency key, so a retry never creates anything twice), no telemetry.
 */
export function createCatalogSyncStripe(
  target: CatalogSyncTarget,
  options: { appName?: string; timeoutMs?: number } = {},
): Stripe {
  return new Stripe(target.secretKey, {
    maxNetworkRetries: 2,
    telemetry: false,
    appInfo: { name: options.appName ?? 'coditect-billing stripe:sync' },
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    ...apiBaseOptions(target.apiBase),
  });
}
