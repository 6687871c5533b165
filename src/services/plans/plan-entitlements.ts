import type { Addon, Plan } from './plan.types';

/** One feature or usage limit of a plan, as an entitlement row holds it. */
export interface PlannedEntitlement {
  featureKey: string;
  enabled: boolean;
  /** null: unlimited, or not metered. */
  limit: number | null;
}

/** An add-on the subscription carries, with the units bought. */
export interface CarriedAddon {
  addon: Addon;
  quantity: number;
}

/**
 * A plan's features and usage limits as entitlement rows (limit null = unlimited or not metered), with what the
 * add-ons grant on top (ADR 0024): a feature is on if the plan or any add-on grants it; an allowance adds
 * `added × quantity` of each add-on (an unlimited one stays unlimited).
 */
export function entitlementsOf(plan: Plan, addons: readonly CarriedAddon[] = []): PlannedEntitlement[] {
  const grantedFeatures = new Set(
    addons.flatMap(({ addon }) =>
      Object.keys(addon.grants.features).filter((key) => addon.grants.features[key]),
    ),
  );
  const added = (metric: string) =>
    addons.reduce(
      (sum, { addon, quantity }) =>
        sum + quantity * (addon.grants.limits.find((grant) => grant.metric === metric)?.added ?? 0),
      0,
    );
  return [
    ...Object.entries(plan.features).map(([featureKey, enabled]) => ({
      featureKey,
      enabled: enabled || grantedFeatures.has(featureKey),
      limit: null,
    })),
    ...plan.limits.map((limit) => {
      const included = limit.included === null ? null : limit.included + added(limit.metric);
      return { featureKey: limit.metric, enabled: included === null || included > 0, limit: included };
    }),
  ];
}
