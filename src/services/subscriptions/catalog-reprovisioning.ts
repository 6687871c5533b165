import { createHash } from 'node:crypto';
import type { Orm } from '../../database/database';
import { SyncCursor } from '../../entities';
import type { AccountEvents } from '../accounts/account-events';
import { type Clock, wallClock } from '../time/clock';
import type { FeatureProvisioner } from './feature-provisioner';
import type { Logger } from '../../logging/logger';
import type { PlanCatalog } from '../plans/plan-catalog';

/** The cursor row holding the fingerprint of the catalog the stored entitlements were last written from. */
const CATALOG_CURSOR = 'entitlements_catalog';
const BATCH = 500;

/**
 * Stored entitlements are written when something about an account's subscription changes, from the plan
 * catalog of the moment. A deploy that changes a plan's features or limits in plans/plans.yaml must reach the
 * accounts already on that plan without waiting for their next subscription change: at start-up the service
 * compares the catalog's fingerprint with the one the entitlements were written from and, if it differs,
 * provisions every provisioned account again (upserts: running it on two instances at once is harmless) and
 * announces each, so feature caches drop them. Returns how many accounts were provisioned.
 */
export async function reprovisionAfterCatalogChange(
  orm: Orm,
  catalog: PlanCatalog,
  provisioner: FeatureProvisioner,
  events: AccountEvents,
  logger: Logger,
  clock: Clock = wallClock,
): Promise<number> {
  const fingerprint = catalogFingerprint(catalog);
  const stored = await orm.em.fork().findOne(SyncCursor, { name: CATALOG_CURSOR });
  if (stored?.value === fingerprint) return 0;
  let count = 0;
  let after = '';
  for (;;) {
    const rows: Array<{ account_id: string }> = await orm.em
      .fork()
      .getConnection()
      .execute(
        'select distinct account_id from entitlement where account_id > ? order by account_id limit ?',
        [after, BATCH],
      );
    for (const { account_id: accountId } of rows) {
      await orm.em.fork().transactional((em) => provisioner.provision(em, accountId, clock.now()));
      await events.accountUpdated(accountId, 'catalog.changed');
      count += 1;
    }
    if (rows.length < BATCH) break;
    after = rows[rows.length - 1]?.account_id ?? after;
  }
  await orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into sync_cursor (name, value, updated_at) values (?, ?, now())
       on conflict (name) do update set value = excluded.value, updated_at = now()`,
      [CATALOG_CURSOR, fingerprint],
    );
  if (stored) logger.info({ accounts: count }, 'plan catalog changed: entitlements provisioned again');
  return count;
}

/** What of the catalog entitlements are made of: each plan's features and limits. */
export function catalogFingerprint(catalog: PlanCatalog): string {
  const entitlementFacts = catalog.plans().map((plan) => ({
    key: plan.key,
    features: Object.entries(plan.features).sort(([a], [b]) => a.localeCompare(b)),
    limits: plan.limits.map((limit) => [limit.metric, limit.included, limit.overLimit]),
  }));
  return createHash('sha256').update(JSON.stringify(entitlementFacts)).digest('hex').slice(0, 32);
}
