import { CREDITS_OVERAGE } from '../plans/plan.types';
import type { UsagePeriod } from '../usage/usage-period';
import type { LockedAccount } from './credit-account';
import type { OverageTerms, PeriodSpend } from './credit-overage.types';

export type { OverageTerms, PeriodSpend } from './credit-overage.types';

/**
 * Credits beyond the balance (issue 17 item 4; docs/credits.md "Overage and the spend limit"; ADR 0027). On a plan
 * that bills them, a model call may hold more than the balance: the part beyond it is kept against the account's
 * spend limit (`credit_balance.overage_held`), and what the work really used beyond the balance is billed once, at
 * the settle, through the `ai_credits` metered price: added to the period's `credit_spend` and to an `ai_credits`
 * usage counter, which the overage reporter sends to Stripe's meter like any metric's overage.
 */

const NOTHING_SPENT: PeriodSpend = { overageCredits: 0, topUpCents: 0, alertedPercent: 0 };

/** A decimal of minor units as an exact fraction: '0.12' is 12 / 100. */
function fractionOf(decimal: string): { numerator: bigint; scale: bigint } {
  const [whole = '0', fraction = ''] = decimal.split('.');
  return { numerator: BigInt(`${whole}${fraction}`), scale: 10n ** BigInt(fraction.length) };
}

/**
 * What `credits` cost at `decimal` per credit, in whole minor units, rounded as Stripe rounds a line ("Decimal
 * amounts for pricing": multiplied, then rounded to the nearest cent, half up): what the invoice will charge.
 */
export function overageCents(credits: number, decimal: string): number {
  const { numerator, scale } = fractionOf(decimal);
  return Number((BigInt(credits) * numerator * 2n + scale) / (scale * 2n));
}

/** The period's spend in minor units: the overage as its invoice line will charge it, plus the top-ups. */
export function spentCents(
  spend: Pick<PeriodSpend, 'overageCredits' | 'topUpCents'>,
  decimal: string,
): number {
  return overageCents(spend.overageCredits, decimal) + spend.topUpCents;
}

/**
 * How many more credits may go beyond the balance in the period: the most `n` with
 * `overageCents(billed + held + n) + topUps ≤ limit`, exactly (never a float). No limit: as many as there are.
 */
export function overageRoom(
  limitCents: number | null,
  spend: Pick<PeriodSpend, 'overageCredits' | 'topUpCents'>,
  overageHeld: number,
  decimal: string,
): number {
  if (limitCents === null) return Number.MAX_SAFE_INTEGER;
  // 0 is the customer saying "nothing beyond my plan", not "what rounds to 0 ¢" (4 credits at 0.12 ¢).
  if (limitCents === 0) return 0;
  const left = BigInt(limitCents - spend.topUpCents);
  if (left < 0n) return 0;
  const { numerator, scale } = fractionOf(decimal);
  if (numerator === 0n) return Number.MAX_SAFE_INTEGER;
  // round(n × p) ≤ left  ⟺  2 × n × numerator < (2 × left + 1) × scale.
  const most = ((2n * left + 1n) * scale - 1n) / (2n * numerator);
  const room = most - BigInt(spend.overageCredits + overageHeld);
  return room > 0n ? Number(room < BigInt(Number.MAX_SAFE_INTEGER) ? room : Number.MAX_SAFE_INTEGER) : 0;
}

/** The period's spend row (nothing spent when there is none yet). */
export async function periodSpendOf(account: LockedAccount, period: UsagePeriod): Promise<PeriodSpend> {
  const [row] = await account.sql<{ overage_credits: string; top_up_cents: string; alerted_percent: number }>(
    `select overage_credits, top_up_cents, alerted_percent from credit_spend
      where account_id = ? and period_start = ?`,
    [account.accountId, period.start],
  );
  if (!row) return NOTHING_SPENT;
  return {
    overageCredits: Number(row.overage_credits),
    topUpCents: Number(row.top_up_cents),
    alertedPercent: Number(row.alerted_percent),
  };
}

/** Credits that may still go beyond the balance in `terms`' period, under the account's lock. */
export async function roomUnderLimit(account: LockedAccount, terms: OverageTerms): Promise<number> {
  if (account.spend.limitCents === null) return Number.MAX_SAFE_INTEGER;
  const spend = await periodSpendOf(account, terms.period);
  return overageRoom(account.spend.limitCents, spend, account.overageHeld, terms.unitAmountDecimal);
}

/**
 * Adds to the period's spend: `overageCredits` billed (also to the `ai_credits` usage counter the overage reporter
 * sends to Stripe, in this same transaction, so a billed credit is reported exactly once) and `topUpCents` charged.
 * Answers the period's spend after it.
 */
export async function addSpend(
  account: LockedAccount,
  period: UsagePeriod,
  added: { overageCredits: number; topUpCents: number },
): Promise<PeriodSpend> {
  const [row] = await account.sql<{ overage_credits: string; top_up_cents: string; alerted_percent: number }>(
    `insert into credit_spend (account_id, period_start, period_end, overage_credits, top_up_cents, updated_at)
     values (?, ?, ?, ?, ?, ?)
     on conflict (account_id, period_start) do update
        set overage_credits = credit_spend.overage_credits + excluded.overage_credits,
            top_up_cents = credit_spend.top_up_cents + excluded.top_up_cents, updated_at = excluded.updated_at
     returning overage_credits, top_up_cents, alerted_percent`,
    [account.accountId, period.start, period.end, added.overageCredits, added.topUpCents, account.now],
  );
  if (added.overageCredits > 0) await countOverage(account, period, added.overageCredits);
  return {
    overageCredits: Number(row?.overage_credits ?? 0),
    topUpCents: Number(row?.top_up_cents ?? 0),
    alertedPercent: Number(row?.alerted_percent ?? 0),
  };
}

/** The `ai_credits` counter of the period: included 0, billed as overage, so every credit on it is reported. */
async function countOverage(account: LockedAccount, period: UsagePeriod, credits: number): Promise<void> {
  await account.sql(
    `insert into usage_counter (id, created_at, updated_at, account_id, metric, period_start, period_end, used,
                                peak, included, plan_included, over_limit)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 'bill_overage')
     on conflict (account_id, metric, period_start) do update
        set used = usage_counter.used + excluded.used, peak = usage_counter.peak + excluded.peak,
            revision = usage_counter.revision + 1, updated_at = excluded.updated_at`,
    [
      crypto.randomUUID(),
      account.now,
      account.now,
      account.accountId,
      CREDITS_OVERAGE,
      period.start,
      period.end,
      credits,
      credits,
    ],
  );
}

/** Told of every change of a period's spend, in its transaction (spend-alerts.ts mails at 80 and 100 %). */
export interface SpendWatcher {
  afterSpend(account: LockedAccount, terms: OverageTerms, spend: PeriodSpend): Promise<void>;
}

/** How a settle bills what the balance could not cover (see `burnNow` in credit-ledger.ts). */
export interface OverageCharging {
  /** `admitted`: what the live hold kept beyond the balance, billed whatever the limit is now. */
  bill(account: LockedAccount, uncovered: number, admitted: number): Promise<number>;
}

/**
 * Bills `uncovered` credits: what the live hold admitted beyond the balance in full (it fitted the limit when held),
 * the rest as far as the limit lets it (the settled hold's own overage is freed before, so it counts no more); adds
 * them to the period's spend and its `ai_credits` counter; answers what was billed.
 */
export function chargingOf(
  terms: OverageTerms,
  watcher: SpendWatcher | null,
  /** false: only what the hold admitted (the terms now refuse overage), never an overrun beyond it. */
  overrunBilled = true,
): OverageCharging {
  return {
    async bill(account, uncovered, admitted) {
      const held = Math.min(uncovered, admitted);
      const overrun = uncovered - held;
      // The room counts the hold's own part as free again (it was freed before): the overrun fits beside it.
      const room =
        overrun > 0 && overrunBilled ? Math.max(0, (await roomUnderLimit(account, terms)) - held) : 0;
      const billed = held + Math.min(overrun, room);
      if (billed === 0) return 0;
      const spend = await addSpend(account, terms.period, { overageCredits: billed, topUpCents: 0 });
      await watcher?.afterSpend(account, terms, spend);
      return billed;
    },
  };
}
