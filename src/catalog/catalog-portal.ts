import type Stripe from 'stripe';
import { syncKey } from './catalog-keys';
import type { SyncReport } from './catalog-report';

/** `metadata[coditect]` of the Customer Portal configuration the sync owns (Stripe's default one is left alone). */
export const PORTAL_METADATA_KEY = 'coditect';
export const PORTAL_METADATA_VALUE = 'customer_portal';
const PORTAL_NAME = 'CODITECT self-serve plans';

/** A self-serve plan as the portal offers it: its product and the prices a customer may switch between. */
export interface PortalProduct {
  product: string;
  prices: string[];
}

type Features = Stripe.BillingPortal.ConfigurationCreateParams.Features;

/** What customers may do in the portal: update the card, see invoices, cancel at period end, switch plans. */
function desiredFeatures(products: readonly PortalProduct[]): Features {
  return {
    payment_method_update: { enabled: true },
    invoice_history: { enabled: true },
    // At period end: the customer paid for the period, and keeps access until it ends.
    subscription_cancel: { enabled: true, mode: 'at_period_end', proration_behavior: 'none' },
    subscription_update: {
      enabled: true,
      default_allowed_updates: ['price'],
      proration_behavior: 'create_prorations',
      products: products.map((entry) => ({ product: entry.product, prices: [...entry.prices] })),
    },
  };
}

/**
 * Our portal configuration, or null. Sessions pass its id as `configuration`: Stripe's API cannot make a
 * configuration the default, so without it a session would open Stripe's default one.
 */
export async function findPortalConfiguration(
  stripe: Stripe,
): Promise<Stripe.BillingPortal.Configuration | null> {
  // `products` is only returned when expanded, and comparing it is the point of reading the configuration.
  const list = stripe.billingPortal.configurations.list({
    limit: 100,
    expand: ['data.features.subscription_update.products'],
  });
  for await (const configuration of list) {
    if (configuration.metadata?.[PORTAL_METADATA_KEY] === PORTAL_METADATA_VALUE) return configuration;
  }
  return null;
}

/** Makes our portal configuration exist and match, updating it in place; returns its id. */
export async function syncPortalConfiguration(
  stripe: Stripe,
  products: readonly PortalProduct[],
  report: SyncReport,
): Promise<string> {
  const features = desiredFeatures(products);
  const metadata = { [PORTAL_METADATA_KEY]: PORTAL_METADATA_VALUE };
  const what = `${PORTAL_NAME}: ${products.length} self-serve products`;
  const found = await findPortalConfiguration(stripe);

  if (!found) {
    const params: Stripe.BillingPortal.ConfigurationCreateParams = { name: PORTAL_NAME, features, metadata };
    const created = await stripe.billingPortal.configurations.create(params, {
      idempotencyKey: syncKey('portal:create', params),
    });
    report.add('created', 'portal configuration', created.id, what);
    return created.id;
  }
  if (matches(found, products)) {
    report.add('unchanged', 'portal configuration', found.id, what);
    return found.id;
  }
  const params: Stripe.BillingPortal.ConfigurationUpdateParams = {
    active: true,
    name: PORTAL_NAME,
    features,
    metadata,
  };
  await stripe.billingPortal.configurations.update(found.id, params, {
    idempotencyKey: syncKey(`portal:update:${found.id}:${found.updated}`, params),
  });
  report.add('updated', 'portal configuration', found.id, what);
  return found.id;
}

function matches(found: Stripe.BillingPortal.Configuration, products: readonly PortalProduct[]): boolean {
  const { features } = found;
  const update = features.subscription_update;
  return (
    found.active &&
    found.name === PORTAL_NAME &&
    features.payment_method_update.enabled &&
    features.invoice_history.enabled &&
    features.subscription_cancel.enabled &&
    features.subscription_cancel.mode === 'at_period_end' &&
    features.subscription_cancel.proration_behavior === 'none' &&
    update.enabled &&
    update.proration_behavior === 'create_prorations' &&
    update.default_allowed_updates.join(',') === 'price' &&
    sameProducts(update.products ?? [], products)
  );
}

/** Same products with the same prices, in any order (Stripe does not promise to keep ours). */
function sameProducts(
  actual: ReadonlyArray<{ product: string; prices: string[] }>,
  desired: readonly PortalProduct[],
): boolean {
  const key = (entries: ReadonlyArray<{ product: string; prices: string[] }>) =>
    entries
      .map((entry) => `${entry.product}:${[...entry.prices].sort().join('+')}`)
      .sort()
      .join(',');
  return key(actual) === key(desired);
}
