import type { MeteredPrice } from '../plans/plan.types';
import type { Clock } from '../time/clock';
import type { CreditLedger } from './credit-ledger';
import { type CreditTerms, type PlanPeriodSource, termsOf } from './credit-terms';

export type { PlanPeriodSource } from './credit-terms';

/** Accounts whose current period this process has opened: beyond it the map starts again (memory, not truth). */
const MAX_REMEMBERED_ACCOUNTS = 50_000;

/**
 * Included credits per usage period, granted lazily and exactly once: before a hold and before the balance is
 * read, the account's current usage period (usage-period.ts: the subscription's, monthly slices of a yearly one,
 * the calendar month on the free plan) is opened in the ledger with the plan's `credits.included`, rolling the
 * last period's unused credits over as the plan says. Included credits follow the plan at the start of the
 * period: a plan changed inside a period grants its own included credits from the next period on (a new
 * subscription starts a new period, so it opens one at once).
 */
export class IncludedCredits {
  private readonly opened = new Map<string, number>();

  constructor(
    private readonly ledger: CreditLedger,
    private readonly plans: PlanPeriodSource,
    private readonly clock: Clock,
    /** The `ai_credits` metered price (plans.yaml): what credits beyond the balance cost; none: refused. */
    private readonly overagePrice?: Pick<MeteredPrice, 'unitAmountsDecimal'>,
  ) {}

  /** The account's terms now (its period, what credits beyond the balance cost), without opening the period. */
  terms(accountId: string): Promise<CreditTerms> {
    return termsOf(this.plans, this.overagePrice, accountId, this.clock.now());
  }

  /** Opens the current period if this process has not yet, and answers the account's terms in it. */
  async ensure(accountId: string): Promise<CreditTerms> {
    const terms = await this.terms(accountId);
    const { plan, period } = terms;
    if (this.opened.get(accountId) === period.start.getTime()) return terms;
    await this.ledger.openPeriod({
      accountId,
      period,
      planKey: plan.key,
      included: plan.credits.included,
      rollover: plan.credits.rollover,
    });
    if (this.opened.size >= MAX_REMEMBERED_ACCOUNTS) this.opened.clear();
    this.opened.set(accountId, period.start.getTime());
    return terms;
  }
}
