/**
 * Tiered prices, as Stripe documents them:
 * https://docs.stripe.com/products-prices/pricing-models#tiered-pricing
 * - graduated: each tier bills the units that fall inside it × its `unit_amount`, plus its
 *   `flat_amount` once if at least one unit reaches it;
 * - volume: every unit is billed at the tier containing the total quantity, plus that tier's
 *   `flat_amount`.
 * `up_to: null` is the last (infinite) tier. Amounts are integer cents.
 */
import { assertCents } from './proration';

export interface Tier {
  up_to: number | null;
  unit_amount: number | null;
  flat_amount: number | null;
}

export type TiersMode = 'graduated' | 'volume';

export interface TierLine {
  tierIndex: number;
  quantity: number;
  unitAmount: number;
  flatAmount: number;
  amount: number;
}

function checkTiers(tiers: readonly Tier[]): void {
  if (tiers.length === 0) throw new Error('tiered price without tiers');
  let previous = 0;
  tiers.forEach((tier, i) => {
    const last = i === tiers.length - 1;
    if (tier.up_to === null && !last) throw new Error('only the last tier may have up_to: inf');
    if (tier.up_to !== null && tier.up_to <= previous && i > 0) throw new Error('tiers must ascend');
    if (tier.up_to !== null) previous = tier.up_to;
    assertCents(tier.unit_amount ?? 0);
    assertCents(tier.flat_amount ?? 0);
  });
}

/** Per-tier breakdown of a graduated price for `quantity` units (tiers reached only). */
export function graduatedLines(tiers: readonly Tier[], quantity: number): TierLine[] {
  checkTiers(tiers);
  const lines: TierLine[] = [];
  let lower = 0;
  for (let i = 0; i < tiers.length; i++) {
    const tier = tiers[i];
    if (quantity <= lower && i > 0) break;
    const upper = tier.up_to ?? Number.POSITIVE_INFINITY;
    const units = Math.max(0, Math.min(quantity, upper) - lower);
    const unitAmount = tier.unit_amount ?? 0;
    // The flat fee applies when at least one unit falls in the tier (the first tier's flat fee
    // also applies to zero units only if quantity > 0).
    const flatAmount = units > 0 ? (tier.flat_amount ?? 0) : 0;
    lines.push({
      tierIndex: i,
      quantity: units,
      unitAmount,
      flatAmount,
      amount: units * unitAmount + flatAmount,
    });
    lower = upper;
    if (quantity <= upper) break;
  }
  return lines;
}

export function graduatedAmount(tiers: readonly Tier[], quantity: number): number {
  return graduatedLines(tiers, quantity).reduce((sum, line) => sum + line.amount, 0);
}

/** The tier a volume price bills `quantity` at: the first whose `up_to` ≥ quantity. */
function volumeTier(tiers: readonly Tier[], quantity: number): { index: number; tier: Tier } {
  checkTiers(tiers);
  const index = tiers.findIndex((tier) => tier.up_to === null || quantity <= tier.up_to);
  const found = index === -1 ? tiers.length - 1 : index;
  return { index: found, tier: tiers[found] };
}

export function volumeAmount(tiers: readonly Tier[], quantity: number): number {
  const { tier } = volumeTier(tiers, quantity);
  return quantity * (tier.unit_amount ?? 0) + (tier.flat_amount ?? 0);
}

export function tieredAmount(mode: TiersMode, tiers: readonly Tier[], quantity: number): number {
  assertQuantity(quantity);
  return mode === 'graduated' ? graduatedAmount(tiers, quantity) : volumeAmount(tiers, quantity);
}

function assertQuantity(quantity: number): void {
  if (!Number.isSafeInteger(quantity) || quantity < 0) throw new Error(`bad quantity ${quantity}`);
}
