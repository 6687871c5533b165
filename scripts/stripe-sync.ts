/**
 * `npm run stripe:sync`: makes the Stripe account at STRIPE_SECRET_KEY (or the emulator at STRIPE_API_BASE)
 * match plans/plans.yaml, prints what it did, and exits non-zero on any problem. Safe to run again at any time.
 */
import Stripe from 'stripe';
import { ConfigError, readStripeSettings } from '../src/config';
import { loadPlanCatalog, PlanCatalogError } from '../src/services/plans/plan-catalog';
import { syncCatalog } from '../src/services/stripe/catalog-sync';
import { apiBaseOptions } from '../src/services/stripe/stripe-client';

async function main(): Promise<void> {
  const settings = readStripeSettings();
  const catalog = loadPlanCatalog(process.argv[2] ?? undefined);
  const stripe = new Stripe(settings.secretKey, {
    maxNetworkRetries: 2,
    telemetry: false,
    appInfo: { name: 'coditect-billing stripe:sync' },
    ...apiBaseOptions(settings.apiBase),
  });
  const target = settings.apiBase ?? 'Stripe';
  console.log(`stripe:sync: making ${target} match ${process.argv[2] ?? 'plans/plans.yaml'}`);
  const report = await syncCatalog(stripe, catalog);
  console.log(report.format());
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof PlanCatalogError) {
    console.error(error.message);
  } else if (error instanceof Stripe.errors.StripeError) {
    console.error(`stripe:sync failed: Stripe said ${error.type}${error.code ? ` (${error.code})` : ''}: ${error.message}`);
  } else {
    console.error('stripe:sync failed:', error);
  }
  process.exitCode = 1;
});
