import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../database/database';
import { BillingCustomer, CreditAutoTopUp } from '../../entities';
import { BadUserInputError, BillingError, ErrorCode } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { Notifier } from '../notifications/notifier';
import type { CustomerCurrency } from '../accounts/customer-currency';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { CreditPack } from '../plans/credit.types';
import type { Clock } from '../time/clock';
import type { TopUpClaimResult } from './spend-limits';

/** What charging a pack to the saved card answers (`CreditPurchases.purchase`); a decline throws. */
export interface PackCharge {
  status: 'paid' | 'requires_action';
  amount: number;
  currency: string;
  pendingAction: { url: string } | null;
}

export interface PackCharger {
  purchase(
    em: EntityManager,
    accountId: string,
    request: { packKey: string; idempotencyKey: string; autoTopUpAttempt: number },
  ): Promise<PackCharge>;
  /** An earlier top-up's invoice still waiting for the bank's approval, as its charge answered; else null. */
  waitingAutoTopUp(em: EntityManager, accountId: string): Promise<PackCharge | null>;
  /** Voids the top-ups' invoices still waiting for the bank's approval; answers their attempts (row 111). */
  voidWaitingAutoTopUps(em: EntityManager, accountId: string): Promise<number[]>;
}

/** The spend limit's part in a top-up (spend-limits.ts): its amount claimed before the charge, given back on a decline. */
export interface TopUpSpend {
  /** Once per attempt: a resumed charge (the same attempt) finds its claim and counts nothing more. */
  claimTopUp(claim: { accountId: string; attempt: number; cents: number }): Promise<TopUpClaimResult>;
  giveBackTopUp(accountId: string, attempt: number): Promise<void>;
}

export interface AutoTopUpSettings {
  enabled: boolean;
  belowCredits: number;
  packKey: string;
}

export interface AutoTopUpView extends AutoTopUpSettings {
  /** A charge is running now. */
  charging: boolean;
  /** Why the last charge failed (auto top-up was then turned off); null otherwise. */
  lastFailure: string | null;
  lastFailureAt: Date | null;
}

const MAX_BELOW_CREDITS = 1_000_000_000;
/** A claim older than this was left by a process that stopped mid-charge: it is charged again (same key). */
const STALE_CLAIM_MS = 10 * 60 * 1000;

/**
 * Automatic top-up (issue 17, docs/credits.md "Automatic top-up"): when an account's available credits fall below
 * its threshold, the pack it chose is charged off-session to its saved card, once per crossing and never twice at
 * once (see `CreditAutoTopUp`). It runs after the change that crossed, never inside it: a model call's hold does
 * not wait for Stripe. A decline or a bank asking to approve turns it off and mails the customer.
 */
export class AutoTopUps {
  constructor(
    private readonly orm: Orm,
    private readonly catalog: PlanCatalog,
    private readonly currencies: Pick<CustomerCurrency, 'of'>,
    private readonly charger: PackCharger,
    private readonly notifier: Notifier,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly availableOf: (accountId: string) => Promise<number>,
    private readonly spend: TopUpSpend | null = null,
  ) {}

  async configure(accountId: string, settings: AutoTopUpSettings): Promise<AutoTopUpView> {
    const pack = this.packOrFail(settings.packKey);
    if (
      !Number.isSafeInteger(settings.belowCredits) ||
      settings.belowCredits < 1 ||
      settings.belowCredits > MAX_BELOW_CREDITS
    )
      throw new BadUserInputError(
        `belowCredits must be a whole number from 1 to ${MAX_BELOW_CREDITS}`,
        'belowCredits',
      );
    // A pack the account could not be charged in would fail at every crossing: refused now, at the form.
    const { currency, cents } = await this.packAmount(accountId, pack);
    if (cents === undefined)
      throw new BadUserInputError(`The pack ${pack.key} is not sold in ${currency.toUpperCase()}`, 'packKey');
    const now = this.clock.now();
    // Turning it on starts afresh: armed, no failure (a customer turning it on again after a decline). A setting
    // sent while it is on (the same form again, another pack) keeps the crossing's state: re-arming there charged
    // a second pack for a fall already topped up (billing-rules row 108).
    await this.sql(
      `insert into credit_auto_top_up (account_id, enabled, below_credits, pack_key, armed, updated_at)
       values (?, ?, ?, ?, true, ?)
       on conflict (account_id) do update
          set enabled = excluded.enabled, below_credits = excluded.below_credits, pack_key = excluded.pack_key,
              armed = credit_auto_top_up.armed or not credit_auto_top_up.enabled,
              last_failure = null, last_failure_at = null, updated_at = excluded.updated_at`,
      [accountId, settings.enabled, settings.belowCredits, pack.key, now],
    );
    // Already below the new threshold: that is a crossing too.
    if (settings.enabled) await this.afterBalanceChange(accountId, await this.availableOf(accountId));
    else await this.cancelWaiting(accountId);
    return (await this.settingsOf(accountId)) as AutoTopUpView;
  }

  /**
   * Turned off: a top-up still waiting for the bank's approval is given up on (billing-rules row 111). Its invoice
   * is voided at Stripe (never payable after) and its amount leaves the period's spend, once (`invoice.voided`
   * finds it given back). Stripe not answering fails the setting's answer; sent again, it voids then.
   */
  private async cancelWaiting(accountId: string): Promise<void> {
    const voided = await this.charger.voidWaitingAutoTopUps(this.orm.em.fork(), accountId);
    for (const attempt of voided) await this.spend?.giveBackTopUp(accountId, attempt);
  }

  /**
   * A top-up whose bank asks to approve, charged while the customer turned automatic top-up off (billing-rules row
   * 112): that turn-off looked for a waiting invoice before this one was open, and found none. Read after the
   * charge answered: off now, its invoice is voided here and its amount leaves the spend (once per attempt, as
   * `cancelWaiting`); still on, a turn-off after this read lists the invoice, open by then, and voids it itself.
   * Answers whether it was off (the charge is then over: no failure, no mail).
   */
  private async turnedOffMeanwhile(accountId: string): Promise<boolean> {
    const [row] = await this.sql<{ enabled: boolean }>(
      `update credit_auto_top_up set charging_since = null, updated_at = ?
        where account_id = ? and not enabled returning enabled`,
      [this.clock.now(), accountId],
    );
    if (!row) return false;
    // Stripe not answering: logged, not thrown (the sweep's resumed charges go on); the customer's next off voids it.
    await this.cancelWaiting(accountId).catch((error: unknown) =>
      this.logger.error(
        { accountId, err: error },
        'auto top-up turned off: the waiting invoice was not voided',
      ),
    );
    return true;
  }

  async settingsOf(accountId: string): Promise<AutoTopUpView | null> {
    const row = await this.orm.em
      .fork()
      .findOne(CreditAutoTopUp, { accountId }, { disableIdentityMap: true });
    if (!row) return null;
    return {
      enabled: row.enabled,
      belowCredits: Number(row.belowCredits),
      packKey: row.packKey,
      charging: row.chargingSince !== null,
      lastFailure: row.lastFailure,
      lastFailureAt: row.lastFailureAt,
    };
  }

  /** After a committed change of the account's credits (`available` read after it): charges if they crossed. */
  async afterBalanceChange(accountId: string, available: number): Promise<void> {
    try {
      const now = this.clock.now();
      // One statement for both turns of a crossing (this runs after every change of every account's credits):
      // armed and below the threshold, claim it for a charge; disarmed and back at or above it, arm it again.
      const [row] = await this.sql<{ attempt: number; pack_key: string; claimed: boolean }>(
        `update credit_auto_top_up
            set armed = below_credits <= ?::bigint,
                charging_since = case when below_credits > ?::bigint then ?::timestamptz end,
                attempt = attempt + case when below_credits > ?::bigint then 1 else 0 end,
                updated_at = ?
          where account_id = ? and enabled and charging_since is null
            and ((armed and below_credits > ?::bigint) or (not armed and below_credits <= ?::bigint))
          returning attempt, pack_key, below_credits > ?::bigint as claimed`,
        [available, available, now, available, now, accountId, available, available, available],
      );
      if (row?.claimed) await this.charge(accountId, row.pack_key, Number(row.attempt));
    } catch (error) {
      this.logger.error({ accountId, err: error }, 'auto top-up check failed');
    }
  }

  /** Charges again the claims a stopped process left (the same attempt: Stripe answers the first charge). */
  async resumeStale(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - STALE_CLAIM_MS);
    const rows = await this.sql<{ account_id: string; pack_key: string; attempt: number }>(
      `update credit_auto_top_up set charging_since = ? where enabled and charging_since < ?
       returning account_id, pack_key, attempt`,
      [this.clock.now(), before],
    );
    for (const row of rows) await this.charge(row.account_id, row.pack_key, Number(row.attempt));
    return rows.length;
  }

  private async charge(accountId: string, packKey: string, attempt: number): Promise<void> {
    const pack = this.catalog.findCreditPack(packKey);
    // A pack still waiting for the bank's approval is this fall's top-up: a second invoice to approve would have the
    // customer pay twice for one fall (billing-rules row 110). Stopped again, pointing at the waiting one.
    const waiting = await this.waitingApproval(accountId, attempt);
    if (waiting !== null) {
      // undefined: Stripe did not answer; the claim stays and is charged again once it is stale.
      if (waiting) await this.stop(accountId, pack, attempt, waiting);
      return;
    }
    // Counted against the spend limit before the charge (claims under the account's lock never pass it together).
    const refusal = pack ? await this.claim(accountId, pack, attempt) : null;
    if (pack && refusal) {
      await this.stop(accountId, pack, attempt, refusal);
      return;
    }
    let outcome: PackCharge | BillingError;
    try {
      if (!pack) throw new BadUserInputError(`The pack ${packKey} is no longer sold`, 'packKey');
      outcome = await this.charger.purchase(this.orm.em.fork(), accountId, {
        packKey,
        idempotencyKey: `auto-top-up:${attempt}`,
        autoTopUpAttempt: attempt,
      });
    } catch (error) {
      if (!(error instanceof BillingError)) {
        // Not an answer about the card (Stripe or the database unreachable): the claim stays, and is charged
        // again, with the same key, once it is stale.
        this.logger.error({ accountId, attempt, err: error }, 'auto top-up charge did not complete');
        return;
      }
      outcome = error;
    }
    if (!(outcome instanceof BillingError) && outcome.status === 'paid') {
      // Paid: its credits are in. Armed again only if they lifted the balance back to the threshold.
      await this.sql(
        `update credit_auto_top_up set charging_since = null, armed = (below_credits <= ?), updated_at = ?
          where account_id = ?`,
        [await this.availableOf(accountId), this.clock.now(), accountId],
      );
      return;
    }
    // Waiting for the bank, but the customer turned it off while it was charged (row 112): given up on, unmailed.
    if (!(outcome instanceof BillingError) && (await this.turnedOffMeanwhile(accountId))) return;
    // Declined (nothing owed: its amount leaves the spend), or waiting for the bank (it may still be paid: kept).
    if (outcome instanceof BillingError && pack) await this.spend?.giveBackTopUp(accountId, attempt);
    await this.stop(accountId, pack, attempt, outcome);
  }

  /** An earlier top-up still waiting for the bank's approval; null when none, undefined when Stripe did not answer. */
  private async waitingApproval(accountId: string, attempt: number): Promise<PackCharge | null | undefined> {
    try {
      return await this.charger.waitingAutoTopUp(this.orm.em.fork(), accountId);
    } catch (error) {
      this.logger.error({ accountId, attempt, err: error }, 'auto top-up charge did not complete');
      return undefined;
    }
  }

  /**
   * Claims the pack's amount against the spend limit before it is charged: null when it may charge, else why not
   * (a pack without an amount in the account's currency is never charged nor claimed as 0; past the limit; a
   * period's spend that cannot be priced).
   */
  private async claim(accountId: string, pack: CreditPack, attempt: number): Promise<BillingError | null> {
    const { currency, cents } = await this.packAmount(accountId, pack);
    if (cents === undefined)
      return new BillingError(
        ErrorCode.BAD_USER_INPUT,
        `The pack ${pack.key} is not sold in ${currency.toUpperCase()}`,
        { field: 'packKey', reason: 'pack_not_sold_in_currency' },
      );
    const claimed = this.spend ? await this.spend.claimTopUp({ accountId, attempt, cents }) : 'claimed';
    if (claimed === 'claimed') return null;
    return new BillingError(
      ErrorCode.SPEND_LIMIT_REACHED,
      claimed === 'spend_limit_reached'
        ? 'The pack would pass the spend limit'
        : "This period's credits beyond the balance have no price in the account's currency",
      { reason: claimed },
    );
  }

  /**
   * The pack's amount in the currency the charge will be in (before tax): what a top-up adds to the period's
   * spend. Decided as the sale decides it (`CustomerCurrency.of`: the kept currency, else the billing country's),
   * so a customer in the euro area who has not paid yet is claimed €9.00 for the €9.00 pack, not $10.00.
   */
  private async packAmount(
    accountId: string,
    pack: CreditPack,
  ): Promise<{ currency: string; cents?: number }> {
    const customer = await this.orm.em
      .fork()
      .findOne(BillingCustomer, { accountId }, { fields: ['currency', 'address'] });
    const currency = this.currencies.of(customer);
    return { currency, cents: pack.amounts[currency] };
  }

  /** A decline, or the bank asking to approve: off, and the customer told (in the same transaction). */
  private async stop(
    accountId: string,
    pack: CreditPack | undefined,
    attempt: number,
    outcome: PackCharge | BillingError,
  ): Promise<void> {
    const reason =
      outcome instanceof BillingError
        ? String(
            outcome.extensions.declineCode ??
              outcome.extensions.reason ??
              outcome.extensions.code ??
              'failed',
          )
        : 'authentication_required';
    await this.orm.em.fork().transactional(async (em) => {
      const now = this.clock.now();
      await em.getConnection().execute(
        `update credit_auto_top_up set enabled = false, charging_since = null, armed = true,
                last_failure = ?, last_failure_at = ?, updated_at = ?
          where account_id = ?`,
        [reason, now, now, accountId],
        'run',
        em.getTransactionContext(),
      );
      const customer = await em.findOne(BillingCustomer, { accountId });
      if (!pack) return;
      const currency = outcome instanceof BillingError ? this.currencies.of(customer) : outcome.currency;
      await this.notifier.enqueue(em, {
        kind: 'auto_top_up_failed',
        accountId,
        recipient: customer?.email ?? null,
        data: {
          packName: pack.name,
          credits: pack.credits,
          amount: outcome instanceof BillingError ? (pack.amounts[currency] ?? 0) : outcome.amount,
          currency,
          reason,
          attempt,
          hostedInvoiceUrl: outcome instanceof BillingError ? null : (outcome.pendingAction?.url ?? null),
        },
      });
    });
    this.logger.warn({ accountId, attempt, reason }, 'auto top-up stopped');
  }

  private packOrFail(packKey: string): CreditPack {
    const pack = this.catalog.findCreditPack(packKey);
    if (!pack) throw new BadUserInputError(`Unknown credit pack ${packKey.slice(0, 64)}`, 'packKey');
    return pack;
  }

  private sql<Row extends object>(text: string, params: readonly unknown[]): Promise<Row[]> {
    return this.orm.em.getConnection().execute(text, [...params], 'all');
  }
}
