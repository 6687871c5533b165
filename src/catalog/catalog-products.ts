import type Stripe from 'stripe';
import type { SyncReport } from './catalog-report';
import { syncKey } from './catalog-keys';

/** What the catalog wants one Stripe product to be. */
export interface DesiredProduct {
  /** `coditect_plan` or `coditect_metric`: the metadata key that identifies our product. */
  metadataKey: string;
  /** The plan key or metric key stored under `metadataKey`. */
  metadataValue: string;
  /** Id to give the product on creation (readable in the Dashboard); Stripe generates one when null. */
  id: string | null;
  name: string;
  description: string;
  unitLabel: string | null;
}

/** Every product of the account, archived ones included: an archived product of ours is revived, not doubled. */
export async function listAllProducts(stripe: Stripe): Promise<Stripe.Product[]> {
  // Listing rather than search: search results lag behind writes by up to a minute on Stripe, so a quick
  // second run would not see the products the first one made and would create them again.
  const products: Stripe.Product[] = [];
  for await (const product of stripe.products.list({ limit: 100 })) products.push(product);
  return products;
}

/** Makes the product exist and match; returns its id. */
export async function syncProduct(
  stripe: Stripe,
  existing: readonly Stripe.Product[],
  desired: DesiredProduct,
  report: SyncReport,
): Promise<string> {
  const what = `${desired.metadataKey}=${desired.metadataValue} "${desired.name}"`;
  const found = existing.find((product) => product.metadata?.[desired.metadataKey] === desired.metadataValue);
  const metadata = { [desired.metadataKey]: desired.metadataValue };
  const fields = {
    name: desired.name,
    description: desired.description,
    ...(desired.unitLabel ? { unit_label: desired.unitLabel } : {}),
    metadata,
  };

  if (!found) {
    const params: Stripe.ProductCreateParams = { ...(desired.id ? { id: desired.id } : {}), ...fields };
    const created = await stripe.products.create(params, {
      idempotencyKey: syncKey(`product:create:${desired.metadataKey}:${desired.metadataValue}`, params),
    });
    report.add('created', 'product', created.id, what);
    return created.id;
  }

  const matches =
    found.active &&
    found.name === desired.name &&
    (found.description ?? '') === desired.description &&
    (desired.unitLabel === null || found.unit_label === desired.unitLabel);
  if (matches) {
    report.add('unchanged', 'product', found.id, what);
    return found.id;
  }
  const params: Stripe.ProductUpdateParams = { ...fields, active: true };
  await stripe.products.update(found.id, params, {
    idempotencyKey: syncKey(`product:update:${found.id}:${found.updated}`, params),
  });
  report.add('updated', 'product', found.id, what);
  return found.id;
}
