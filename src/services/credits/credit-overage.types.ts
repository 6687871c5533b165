import type { UsagePeriod } from '../usage/usage-period';

/** What credits beyond the balance cost this account now: null on a plan that refuses them. */
export interface OverageTerms {
  /** The usage period they are billed and limited in (usage-period.ts). */
  period: UsagePeriod;
  /** Minor units of `currency` per credit, as Stripe's `unit_amount_decimal` ('0.12'). */
  unitAmountDecimal: string;
  currency: string;
}

/** What the account spent beyond its plan in a period. */
export interface PeriodSpend {
  overageCredits: number;
  topUpCents: number;
  alertedPercent: number;
}
