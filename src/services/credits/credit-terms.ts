import type { SubscriptionStatus } from '../../entities';
import type { MeteredPrice, Plan } from '../plans/plan.types';
import { overLimitRuleOf } from '../usage/over-limit-rule';
import { type BillingPeriodSource, type UsagePeriod, usagePeriodAt } from '../usage/usage-period';
import type { OverageTerms } from './credit-overage';

/** What decides an account's credits now: its plan, the subscription's period, status and currency. */
export interface PlanPeriodSource {
  allowances(accountId: string): Promise<{
    plan: Pick<Plan, 'key' | 'credits'>;
    billingPeriod: BillingPeriodSource | null;
    /** The live subscription's status (null or left out: none); only an active one is billed overage. */
    subscriptionStatus?: SubscriptionStatus | null;
    /** The live subscription's currency (null or left out: none, so no overage can be billed). */
    currency?: string | null;
    /**
     * Whether the live subscription carries the `ai_credits` metered item (false: Stripe has no line to bill
     * credits beyond the balance on, so they are refused; left out: carried, as a test's plan source says).
     */
    creditsOverageItem?: boolean;
  }>;
}

/** An account's credit terms for the current usage period. */
export interface CreditTerms {
  plan: Pick<Plan, 'key' | 'credits'>;
  period: UsagePeriod;
  /** What credits beyond the balance cost; null when they are refused (see `termsOf`). */
  overage: OverageTerms | null;
  /** The live subscription's currency; null without one. */
  currency: string | null;
}

/**
 * The terms of an account now. Credits beyond the balance are billed only where the plan says `bill_overage`, the
 * subscription is active (a trial's usage is not billed and a past-due one is not being paid: over-limit-rule.ts)
 * the `ai_credits` metered price has an amount in the subscription's currency, and the subscription carries that
 * price as an item (one made before the price existed does not: Stripe would have no line to bill them on, so they
 * are refused until a plan change or resume adds it); anywhere else they are refused.
 */
export async function termsOf(
  plans: PlanPeriodSource,
  overagePrice: Pick<MeteredPrice, 'unitAmountsDecimal'> | undefined,
  accountId: string,
  now: Date,
): Promise<CreditTerms> {
  const { plan, billingPeriod, subscriptionStatus, currency, creditsOverageItem } =
    await plans.allowances(accountId);
  const period = usagePeriodAt(billingPeriod, now);
  const rule = overLimitRuleOf(plan.credits.overLimit, subscriptionStatus ?? null);
  const unitAmountDecimal = currency ? overagePrice?.unitAmountsDecimal[currency] : undefined;
  const overage =
    rule === 'bill_overage' && currency && unitAmountDecimal !== undefined && creditsOverageItem !== false
      ? { period, unitAmountDecimal, currency }
      : null;
  return { plan, period, overage, currency: currency ?? null };
}
