import { openDatabase } from '../../src/database/database';
import { Entitlement, SyncCursor } from '../../src/entities';
import { InMemoryPubSub } from '../../src/pubsub/in-memory-pubsub';
import { Topic } from '../../src/pubsub/topics';
import { AccountEvents } from '../../src/services/accounts/account-events';
import {
  catalogFingerprint,
  reprovisionAfterCatalogChange,
} from '../../src/services/subscriptions/catalog-reprovisioning';
import { FeatureProvisioner } from '../../src/services/subscriptions/feature-provisioner';
import { silentLogger } from '../../src/logging/logger';
import { loadPlanCatalog, PlanCatalog } from '../../src/services/plans/plan-catalog';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { createCustomer, createSubscription } from '../support/factories';

/**
 * A deploy that changes a plan's features reaches the accounts already on it: the entitlements are provisioned
 * again once, at start-up, and each account is announced (feature caches drop it).
 */
describe('provisioning again after the plan catalog changed', () => {
  let database: TestDatabase;
  let pubSub: InMemoryPubSub;

  beforeAll(async () => {
    database = await createTestDatabase();
    pubSub = new InMemoryPubSub();
  });
  afterAll(async () => {
    await pubSub.close();
    await database.drop();
  });

  it('provisions every provisioned account once per catalog change, and not again', async () => {
    const orm = await openDatabase({ url: database.url, poolMax: 2 }, { migrate: false });
    try {
      const catalog = loadPlanCatalog();
      const provisioner = new FeatureProvisioner(catalog, 7);
      const events = new AccountEvents(pubSub, silentLogger);
      const em = orm.em.fork();
      for (const accountId of ['acct_catalog_1', 'acct_catalog_2']) {
        createSubscription(em, createCustomer(em, { accountId }), { planKey: 'starter' });
      }
      await em.flush();
      for (const accountId of ['acct_catalog_1', 'acct_catalog_2'])
        await orm.em.fork().transactional((tx) => provisioner.provision(tx, accountId, new Date()));
      expect(await reprovisionAfterCatalogChange(orm, catalog, provisioner, events, silentLogger)).toBe(2);
      // Same catalog: nothing to do.
      expect(await reprovisionAfterCatalogChange(orm, catalog, provisioner, events, silentLogger)).toBe(0);

      // A deploy gives starter team collaboration.
      const changed = new PlanCatalog({
        ...catalog.catalog,
        plans: catalog.catalog.plans.map((plan) =>
          plan.key === 'starter'
            ? { ...plan, features: { ...plan.features, team_collaboration: true } }
            : plan,
        ),
      });
      expect(catalogFingerprint(changed)).not.toBe(catalogFingerprint(catalog));
      const announced: string[] = [];
      const stop = await pubSub.listen(Topic.ENTITLEMENTS_CHANGED, (payload) =>
        announced.push((payload as { accountId: string }).accountId),
      );
      expect(
        await reprovisionAfterCatalogChange(
          orm,
          changed,
          new FeatureProvisioner(changed, 7),
          events,
          silentLogger,
        ),
      ).toBe(2);
      await stop();
      expect(announced.sort()).toEqual(['acct_catalog_1', 'acct_catalog_2']);
      const collaboration = await orm.em
        .fork()
        .find(Entitlement, { featureKey: 'team_collaboration' }, { orderBy: { accountId: 'asc' } });
      expect(collaboration.map((row) => [row.accountId, row.enabled])).toEqual([
        ['acct_catalog_1', true],
        ['acct_catalog_2', true],
      ]);
      expect((await orm.em.fork().findOneOrFail(SyncCursor, { name: 'entitlements_catalog' })).value).toBe(
        catalogFingerprint(changed),
      );
    } finally {
      await orm.close();
    }
  });
});
