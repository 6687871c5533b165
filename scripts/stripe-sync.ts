/**
 * `npm run stripe:sync`: makes the Stripe account at STRIPE_SECRET_KEY (or the emulator at STRIPE_API_BASE)
 * match plans/plans.yaml, prints what it did, and exits non-zero on any problem. Safe to run again at any time.
 * With STRIPE_WEBHOOK_URL set it also registers that URL as the webhook endpoint for the handled event types
 * (printing the signing secret once, when it creates the endpoint). In production, after `npm run build`:
 * `node dist/scripts/stripe-sync.js`.
 */
import Stripe from 'stripe';
import { ConfigError, readStripeSettings, readWebhookEndpointUrl } from '../src/config';
import { DEFAULT_PLANS_FILE, loadPlanCatalog, PlanCatalogError } from '../src/services/plans/plan-catalog';
import { CouponConflictError } from '../src/catalog/catalog-coupons';
import { MeterConflictError } from '../src/catalog/catalog-meters';
import { syncCatalog } from '../src/catalog/catalog-sync';
import { createCatalogSyncStripe } from '../src/catalog/catalog-sync-sdk';
import {
  formatWebhookEndpointResult,
  syncWebhookEndpoint,
  WebhookEndpointConflictError,
} from '../src/catalog/webhook-endpoint-sync';
import { HANDLED_EVENT_TYPES } from '../src/webhooks/handlers';

async function main(): Promise<void> {
  const settings = readStripeSettings();
  const webhookUrl = readWebhookEndpointUrl();
  const file = process.argv[2] ?? DEFAULT_PLANS_FILE;
  const catalog = loadPlanCatalog(file);
  const stripe = createCatalogSyncStripe(settings);
  console.log(`stripe:sync: making ${settings.apiBase ?? 'Stripe'} match ${file}`);
  const report = await syncCatalog(stripe, catalog);
  console.log(report.format());
  if (webhookUrl) {
    const result = await syncWebhookEndpoint(stripe, webhookUrl, HANDLED_EVENT_TYPES);
    console.log(formatWebhookEndpointResult(result));
  } else {
    console.log('STRIPE_WEBHOOK_URL is unset: no webhook endpoint registered.');
  }
}

main().catch((error: unknown) => {
  // Problems a person must fix read best as their message alone; anything else keeps its stack.
  if (
    error instanceof ConfigError ||
    error instanceof PlanCatalogError ||
    error instanceof MeterConflictError ||
    error instanceof CouponConflictError ||
    error instanceof WebhookEndpointConflictError
  ) {
    console.error(error.message);
  } else if (error instanceof Stripe.errors.StripeError) {
    console.error(
      `stripe:sync failed: Stripe said ${error.type}${error.code ? ` (${error.code})` : ''}: ${error.message}`,
    );
  } else {
    console.error('stripe:sync failed:', error);
  }
  process.exitCode = 1;
});
