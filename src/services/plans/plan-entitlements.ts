import type { Plan } from './plan.types';

/** One feature or usage limit of a plan, as an entitlement row holds it. */
export interface PlannedEntitlement {
  featureKey: string;
  enabled: boolean;
  /** null: unlimited, or not metered. */
  limit: number | null;
}

/** A plan's features and usage limits as entitlement rows (limit null = unlimited or not metered). */
export function entitlementsOf(plan: Plan): PlannedEntitlement[] {
  return [
    ...Object.entries(plan.features).map(([featureKey, enabled]) => ({ featureKey, enabled, limit: null })),
    ...plan.limits.map((limit) => ({
      featureKey: limit.metric,
      enabled: limit.included === null || limit.included > 0,
      limit: limit.included,
    })),
  ];
}
