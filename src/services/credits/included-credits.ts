import type { Plan } from '../plans/plan.types';
import type { Clock } from '../time/clock';
import { type BillingPeriodSource, usagePeriodAt } from '../usage/usage-period';
import type { CreditLedger } from './credit-ledger';

/** What decides an account's period and its included credits: the plan and the subscription's period. */
export interface PlanPeriodSource {
  allowances(
    accountId: string,
  ): Promise<{ plan: Pick<Plan, 'key' | 'credits'>; billingPeriod: BillingPeriodSource | null }>;
}

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
  ) {}

  async ensure(accountId: string): Promise<void> {
    const { plan, billingPeriod } = await this.plans.allowances(accountId);
    const period = usagePeriodAt(billingPeriod, this.clock.now());
    if (this.opened.get(accountId) === period.start.getTime()) return;
    await this.ledger.openPeriod({
      accountId,
      period,
      planKey: plan.key,
      included: plan.credits.included,
      rollover: plan.credits.rollover,
    });
    if (this.opened.size >= MAX_REMEMBERED_ACCOUNTS) this.opened.clear();
    this.opened.set(accountId, period.start.getTime());
  }
}
