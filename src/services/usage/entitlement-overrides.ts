import type { Orm } from '../../database/database';
import { EntitlementOverride } from '../../entities';
import { BadUserInputError } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import type { Clock } from '../time/clock';
import type { EntitlementProvisioning } from './entitlement-provisioning';
import type { PlanCatalog } from '../plans/plan-catalog';
import { METRIC_KEYS } from '../plans/plan.types';

export interface OverrideInput {
  accountId: string;
  feature: string;
  enabled: boolean;
  /** For a metric: the included amount; null = unlimited. Ignored for a plain feature. */
  limit: number | null;
  note: string | null;
}

/**
 * Admin exceptions to an account's plan (enterprise contracts, goodwill): stored, then provisioned at once in
 * the same transaction, and announced after commit, so every instance's feature gate drops its cached copy.
 */
export class EntitlementOverrides {
  constructor(
    private readonly orm: Orm,
    private readonly catalog: PlanCatalog,
    private readonly provisioner: EntitlementProvisioning,
    private readonly events: AccountEvents,
    private readonly clock: Clock,
  ) {}

  async set(input: OverrideInput): Promise<void> {
    const isMetric = (METRIC_KEYS as readonly string[]).includes(input.feature);
    if (!isMetric && !(input.feature in this.catalog.freePlan().features))
      throw new BadUserInputError(`Unknown feature "${input.feature}"`, 'feature');
    if (input.limit !== null && (!Number.isSafeInteger(input.limit) || input.limit < 0))
      throw new BadUserInputError('limit must be a whole number, 0 or more (null = unlimited)', 'limit');
    const now = this.clock.now();
    await this.orm.em.fork().transactional(async (em) => {
      await em
        .createQueryBuilder(EntitlementOverride)
        .insert({
          id: crypto.randomUUID(),
          createdAt: now,
          updatedAt: now,
          accountId: input.accountId,
          featureKey: input.feature,
          enabled: input.enabled,
          limit: isMetric ? input.limit : null,
          note: input.note,
        })
        .onConflict(['accountId', 'featureKey'])
        .merge(['enabled', 'limit', 'note', 'updatedAt'])
        .execute();
      await this.provisioner.provision(em, input.accountId, now);
    });
    await this.events.accountUpdated(input.accountId, 'entitlement.override_set');
  }

  /** Back to the plan's entitlement; true if there was an override. */
  async remove(accountId: string, feature: string): Promise<boolean> {
    const removed = await this.orm.em.fork().transactional(async (em) => {
      const count = await em.nativeDelete(EntitlementOverride, { accountId, featureKey: feature });
      if (count > 0) await this.provisioner.provision(em, accountId, this.clock.now());
      return count > 0;
    });
    if (removed) await this.events.accountUpdated(accountId, 'entitlement.override_removed');
    return removed;
  }
}
