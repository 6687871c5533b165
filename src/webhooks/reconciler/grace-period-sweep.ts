import { LockMode } from '@mikro-orm/core';
import type { Orm } from '../../database/database';
import { Entitlement, Subscription } from '../../entities';
import type { Logger } from '../../logging/logger';
import type { AccountEvents } from '../../services/accounts/account-events';
import { entitlementsOf } from '../../services/plans/plan-entitlements';
import type { FeatureProvisioner } from '../../services/subscriptions/feature-provisioner';

/** Past-due subscriptions read per page of the sweep. */
const SWEEP_BATCH = 500;

/**
 * Moves past-due accounts whose grace period is over to the free plan: no Stripe event marks that moment, so
 * without this they would keep their paid plan.
 */
export class GracePeriodSweep {
  constructor(
    private readonly orm: Orm,
    private readonly provisioner: FeatureProvisioner,
    private readonly events: AccountEvents,
    private readonly logger: Logger,
    private readonly isStopping: () => boolean,
  ) {}

  /**
   * Past-due subscriptions whose grace period is over: their accounts' entitlements are provisioned again
   * (which now gives the free plan) and, where that changed them, subscribers are told. Returns those accounts.
   */
  async run(now: Date): Promise<string[]> {
    const moved: string[] = [];
    // Keyset pages over every past-due subscription: ones moved to free earlier stay past due in Stripe for a
    // while and must not crowd out those whose grace period just ended.
    let afterId: string | null = null;
    while (!this.isStopping()) {
      const batch: Subscription[] = await this.orm.em.fork().find(
        Subscription,
        {
          status: { $in: ['past_due', 'unpaid'] },
          pastDueSince: { $ne: null },
          ...(afterId ? { id: { $gt: afterId } } : {}),
        },
        { orderBy: { id: 'asc' }, limit: SWEEP_BATCH },
      );
      for (const candidate of batch) {
        if (this.isStopping()) break;
        const endsAt = this.provisioner.graceEndsAt(candidate);
        if (!endsAt || endsAt > now) continue;
        if (await this.endGracePeriod(candidate.id, now)) {
          moved.push(candidate.accountId);
          await this.events.accountUpdated(candidate.accountId, 'grace_period_ended');
        }
      }
      if (batch.length < SWEEP_BATCH) break;
      afterId = batch[batch.length - 1].id;
    }
    if (moved.length > 0)
      this.logger.info({ accounts: moved }, 'grace period over: accounts moved to the free plan');
    return moved;
  }

  /** Provisions the account of a subscription whose grace period is over; true if its entitlements changed. */
  private endGracePeriod(subscriptionId: string, now: Date): Promise<boolean> {
    return this.orm.em.fork().transactional(async (tx) => {
      // The row lock orders this after (or before) a webhook changing the same subscription, so a payment that
      // just arrived is never overwritten with the free plan.
      const subscription = await tx.findOne(
        Subscription,
        { id: subscriptionId },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!subscription || (subscription.status !== 'past_due' && subscription.status !== 'unpaid'))
        return false;
      // Copied out: provisioning updates these very entities in place.
      const before = entitlementValues(await tx.find(Entitlement, { accountId: subscription.accountId }));
      const plan = await this.provisioner.provision(tx, subscription.accountId, now);
      return !sameEntitlements(before, entitlementsOf(plan));
    });
  }
}

interface EntitlementValue {
  featureKey: string;
  enabled: boolean;
  limit: number | null;
}

function entitlementValues(rows: readonly Entitlement[]): EntitlementValue[] {
  return rows.map((row) => ({
    featureKey: row.featureKey,
    enabled: row.enabled,
    limit: row.limit === null ? null : Number(row.limit),
  }));
}

function sameEntitlements(before: readonly EntitlementValue[], after: readonly EntitlementValue[]): boolean {
  if (before.length !== after.length) return false;
  const byKey = new Map(before.map((value) => [value.featureKey, value]));
  return after.every((wanted) => {
    const had = byKey.get(wanted.featureKey);
    return had !== undefined && had.enabled === wanted.enabled && had.limit === wanted.limit;
  });
}
