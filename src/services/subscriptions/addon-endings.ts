import type { Subscription } from '../../entities';

/**
 * What the period end does to the add-ons (ADR 0024, docs/billing-rules.md rows 50–51): those removed, and those
 * whose units go down (key → the units from then on). Both are kept until then, as paid for; the one schedule the
 * subscription may have carries them with any seats removed and any plan change.
 */
export interface AddonEndings {
  removals: readonly string[];
  units: Readonly<Record<string, number>>;
}

export const NO_ENDINGS: AddonEndings = { removals: [], units: {} };

/** The subscription's add-on endings, copied: storing what Stripe answers refreshes the row (and may clear them). */
export function addonEndingsOf(subscription: Subscription): AddonEndings {
  return { removals: [...subscription.addonRemovals], units: { ...subscription.addonUnitsAtPeriodEnd } };
}

export function hasEndings(endings: AddonEndings): boolean {
  return endings.removals.length > 0 || Object.keys(endings.units).length > 0;
}

/** `endings` without anything about `key` (bought again, or set to the units it has). */
export function withoutAddon(endings: AddonEndings, key: string): AddonEndings {
  const { [key]: _dropped, ...units } = endings.units;
  return { removals: endings.removals.filter((removed) => removed !== key), units };
}
