import type { Orm } from '../../database/database';
import { BadUserInputError } from '../../errors';
import type { MeteredPrice } from '../plans/plan.types';
import type { Clock } from '../time/clock';
import type { UsagePeriod } from '../usage/usage-period';
import { inLockedAccount, type LockedAccount } from './credit-account';
import type { CreditEvents } from './credit-events';
import { readBalance } from './credit-reads';
import {
  addSpend,
  overageCents,
  type PeriodSpend,
  periodSpendOf,
  type SpendWatcher,
  spentCents,
} from './credit-overage';
import type { CreditTerms } from './credit-terms';

/** The largest limit accepted: $10,000,000.00 (beyond it a limit is no limit; null says so). */
const MAX_LIMIT_CENTS = 1_000_000_000;

export interface SpendLimitView {
  accountId: string;
  /** The most the account may owe beyond its plan this period, in minor units of `currency`; null: no limit. */
  monthlyCents: number | null;
  currency: string;
  period: UsagePeriod;
  /** Credits billed as overage this period, and what their invoice line will charge. */
  overageCredits: number;
  overageCents: number;
  /** Automatic top-ups charged this period (pack amounts before tax). */
  topUpCents: number;
  /** overageCents + topUpCents. */
  spentCents: number;
  /** Credits live holds keep beyond the balance (not spent yet: a commit bills what the call really used). */
  heldOverageCredits: number;
  /** Whether credits beyond the balance are billed now (the plan says so and the subscription is active). */
  overageBilled: boolean;
  /** Minor units per credit beyond the balance, in `currency` (Stripe's unit_amount_decimal); null: none. */
  unitAmountDecimal: string | null;
}

/** An automatic top-up's amount, claimed against the limit once per attempt (`credit_auto_top_up.attempt`). */
export interface TopUpClaim {
  accountId: string;
  attempt: number;
  cents: number;
}

/**
 * A top-up claim's answer: `spend_limit_reached` (it would pass the limit), `spend_not_priced` (this period has
 * credits beyond the balance and the `ai_credits` price has no amount in the account's currency, so what they cost
 * cannot be known: refused rather than counted as 0).
 */
export type TopUpClaimResult = 'claimed' | 'spend_limit_reached' | 'spend_not_priced';

export interface SetSpendLimit {
  accountId: string;
  monthlyCents: number | null;
}

/** Where an account's terms come from (`IncludedCredits.terms`: read, never granting anything). */
export interface CreditTermsSource {
  terms(accountId: string): Promise<CreditTerms>;
}

/**
 * The spend limit (issue 17 item 4; docs/credits.md "Overage and the spend limit"): what a customer lets the account
 * owe beyond its plan per usage period, overage and automatic top-ups together. The ledger's hold and settle enforce
 * it (credit-overage.ts); automatic top-ups claim their amount here before they charge.
 */
export class SpendLimits {
  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly terms: CreditTermsSource,
    private readonly overagePrice: Pick<MeteredPrice, 'unitAmountsDecimal'> | undefined,
    private readonly baseCurrency: string,
    private readonly events: CreditEvents,
    private readonly watcher: SpendWatcher | null = null,
  ) {}

  /** Sets (null: removes) the limit; a limit under what is spent stops further overage and top-ups only. */
  async set(input: SetSpendLimit): Promise<SpendLimitView> {
    if (
      input.monthlyCents !== null &&
      (!Number.isSafeInteger(input.monthlyCents) ||
        input.monthlyCents < 0 ||
        input.monthlyCents > MAX_LIMIT_CENTS)
    )
      throw new BadUserInputError(
        `monthlyCents must be a whole number of cents from 0 to ${MAX_LIMIT_CENTS} (or null: no limit)`,
        'monthlyCents',
      );
    await inLockedAccount(this.orm, input.accountId, this.clock.now(), (account) =>
      account.sql('update credit_balance set spend_limit_cents = ?, updated_at = ? where account_id = ?', [
        input.monthlyCents,
        account.now,
        account.accountId,
      ]),
    );
    // The balance's figures are as they were: read (this is no hot path) and published for the listeners (an
    // automatic top-up a lower limit held back may go now).
    await this.events.balanceChanged(
      input.accountId,
      await readBalance(this.orm, input.accountId, this.clock.now()),
      true,
    );
    return this.viewOf(input.accountId);
  }

  async viewOf(accountId: string): Promise<SpendLimitView> {
    const terms = await this.terms.terms(accountId);
    const currency = terms.overage?.currency ?? terms.currency ?? this.baseCurrency;
    const unitAmountDecimal = this.overagePrice?.unitAmountsDecimal[currency] ?? null;
    const [row] = await this.orm.em
      .getConnection()
      .execute<Array<{ spend_limit_cents: string | null; overage_held: string } & Record<string, unknown>>>(
        `select b.spend_limit_cents, b.overage_held, s.overage_credits, s.top_up_cents
         from (select ?::varchar as account_id) wanted
         left join credit_balance b on b.account_id = wanted.account_id
         left join credit_spend s on s.account_id = wanted.account_id and s.period_start = ?`,
        [accountId, terms.period.start],
      );
    const spend = {
      overageCredits: Number(row?.overage_credits ?? 0),
      topUpCents: Number(row?.top_up_cents ?? 0),
    };
    const overage = unitAmountDecimal ? overageCents(spend.overageCredits, unitAmountDecimal) : 0;
    return {
      accountId,
      monthlyCents: row?.spend_limit_cents == null ? null : Number(row.spend_limit_cents),
      currency,
      period: terms.period,
      overageCredits: spend.overageCredits,
      overageCents: overage,
      topUpCents: spend.topUpCents,
      spentCents: overage + spend.topUpCents,
      heldOverageCredits: Number(row?.overage_held ?? 0),
      overageBilled: terms.overage !== null,
      unitAmountDecimal,
    };
  }

  /**
   * An automatic top-up of `cents` about to be charged: counted in this period's spend when it fits under the limit
   * (`claimed`), refused when it would pass it or the spend cannot be priced (the top-up does not charge). Under the
   * account's lock, so two claims never pass the limit together. Once per attempt: a charge resumed after a crash
   * (the same attempt, the same idempotency key at Stripe) finds its claim and counts nothing more (`claimed`); an
   * attempt whose amount was given back and is charged again is claimed again, against the limit (row 113).
   */
  async claimTopUp(claim: TopUpClaim): Promise<TopUpClaimResult> {
    const { accountId, attempt, cents } = claim;
    // A pack without an amount (0 ¢) would be charged and counted as nothing: refused, never claimed as 0.
    if (!Number.isSafeInteger(cents) || cents <= 0)
      throw new BadUserInputError('A top-up is claimed for a whole number of minor units above 0', 'cents');
    const terms = await this.terms.terms(accountId);
    // The period's overage is priced as its invoice line will be, also when the terms bill none now (a plan that
    // blocks, a subscription past due): what was billed before still counts, never at 0.
    const currency = terms.overage?.currency ?? terms.currency ?? this.baseCurrency;
    const decimal =
      terms.overage?.unitAmountDecimal ?? this.overagePrice?.unitAmountsDecimal[currency] ?? null;
    const { value } = await inLockedAccount(this.orm, accountId, this.clock.now(), async (account) => {
      const [earlier] = await account.sql<{ given_back: boolean }>(
        'select given_back from credit_top_up_claim where account_id = ? and attempt = ?',
        [accountId, attempt],
      );
      // Given back (declined, voided) and charged again: it may be paid now, so it counts again (row 113).
      if (earlier && !earlier.given_back) return 'claimed';
      const limit = account.spend.limitCents;
      // What calls in progress hold beyond the balance may still be billed: it counts as spent here.
      const spend = await periodSpendOf(account, terms.period);
      const committed = { ...spend, overageCredits: spend.overageCredits + account.overageHeld };
      if (limit !== null && decimal === null && committed.overageCredits > 0) return 'spend_not_priced';
      if (limit !== null && spentCents(committed, decimal ?? '0') + cents > limit)
        return 'spend_limit_reached';
      await account.sql(
        `insert into credit_top_up_claim (account_id, attempt, period_start, cents, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?)
         on conflict (account_id, attempt) do update
            set given_back = false, period_start = excluded.period_start, cents = excluded.cents,
                updated_at = excluded.updated_at`,
        [accountId, attempt, terms.period.start, cents, account.now, account.now],
      );
      await this.alert(
        account,
        terms,
        decimal ?? '0',
        await addSpend(account, terms.period, { overageCredits: 0, topUpCents: cents }),
      );
      return 'claimed' as const;
    });
    return value;
  }

  /**
   * A claimed top-up that was declined: nothing is owed, so its amount leaves the spend of the period it was claimed
   * in, once (a second give-back of the attempt finds it given back).
   */
  async giveBackTopUp(accountId: string, attempt: number): Promise<void> {
    await inLockedAccount(this.orm, accountId, this.clock.now(), async (account) => {
      const [claim] = await account.sql<{ period_start: Date; cents: string }>(
        `update credit_top_up_claim set given_back = true, updated_at = ?
          where account_id = ? and attempt = ? and not given_back
          returning period_start, cents`,
        [account.now, accountId, attempt],
      );
      if (!claim) return;
      await account.sql(
        `update credit_spend set top_up_cents = greatest(0, top_up_cents - ?), updated_at = ?
          where account_id = ? and period_start = ?`,
        [Number(claim.cents), account.now, accountId, claim.period_start],
      );
    });
  }

  private async alert(account: LockedAccount, terms: CreditTerms, decimal: string, spend: PeriodSpend) {
    const overage = terms.overage ?? {
      period: terms.period,
      unitAmountDecimal: decimal,
      currency: terms.currency ?? this.baseCurrency,
    };
    await this.watcher?.afterSpend(account, overage, spend);
  }
}
