import type { EntityManager } from '@mikro-orm/postgresql';
import type { Subscription } from '../../entities';
import type { Plan } from '../plans/plan.types';

/**
 * What usage needs of entitlement provisioning (`subscriptions/feature-provisioner.ts` does it): which plan an
 * account has now, and storing its entitlements again after an admin override. Declared here because the
 * subscriptions build on usage (provisioning settles the usage allowances), so usage must not import them.
 */
export interface EntitlementProvisioning {
  effectivePlan(subscription: Subscription | null, now: Date): Plan;
  provision(em: EntityManager, accountId: string, now: Date): Promise<Plan>;
}
