import type { Orm } from '../../database/database';
import { BillingCustomer } from '../../entities';
import { BadUserInputError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { Notifier } from '../notifications/notifier';
import type { Clock } from '../time/clock';

/** What `viewer.lowBalanceAlert` shows. */
export interface LowBalanceAlertView {
  /** Below this many available credits the customer is mailed; null when off. */
  belowCredits: number | null;
  /** The plan's default (20 % of the period's included credits): the customer never set one. */
  isDefault: boolean;
}

const MAX_BELOW_CREDITS = 1_000_000_000;

/** The default threshold, in percent of the included credits of the account's current period. */
export const DEFAULT_PERCENT_OF_INCLUDED = 20;

/**
 * The account's threshold now (parameters: account, account, now): its own when it set one (0: off), else 20 % of
 * the included lot of its current period, rounded down (no included credits: 0, off). The included lot is the
 * plan's `credits.included` as the ledger granted it at the period's start (docs/credits.md), so the default
 * follows the plan as included credits do.
 */
const THRESHOLD = `coalesce(
    (select below_credits from credit_low_balance_alert where account_id = ?),
    (select lot.credits * ${DEFAULT_PERCENT_OF_INCLUDED} / 100 from credit_lot lot
      where lot.account_id = ? and lot.kind = 'included' and lot.expires_at > ?
      order by lot.created_at desc limit 1),
    0)`;

/**
 * One statement for both turns of a crossing, as automatic top-up's (this runs after every change of every
 * account's credits). Below the threshold and armed (or no row yet): disarm it and count a crossing; the row lock
 * of `on conflict … where armed` makes concurrent callers one claim. A disarmed row is skipped before the insert,
 * so usage going on below the threshold writes and locks nothing. Back at or above it and disarmed: armed again.
 * `covered`: automatic top-up is on at or above this threshold, so it (or its failure mail) tells the customer.
 */
const CHECK = `with alert as (select ?::varchar as account_id, ${THRESHOLD}::bigint as below),
  crossed as (
    insert into credit_low_balance_alert as current (account_id, below_credits, armed, crossings, updated_at)
    select account_id, null::bigint, false, 1, ?::timestamptz from alert
     where ?::bigint < below
       and not exists (select 1 from credit_low_balance_alert where account_id = ? and not armed)
    on conflict (account_id) do update
       set armed = false, crossings = current.crossings + 1, updated_at = excluded.updated_at
     where current.armed
    returning crossings),
  rearmed as (
    update credit_low_balance_alert set armed = true, updated_at = ?
     where account_id = ? and not armed and ?::bigint >= (select below from alert)
    returning account_id)
select crossed.crossings, alert.below,
       exists (select 1 from credit_auto_top_up top_up
                where top_up.account_id = alert.account_id and top_up.enabled
                  and alert.below <= top_up.below_credits) as covered
  from crossed, alert`;

/**
 * The low-balance mail (issue 17, docs/credits.md "Low-balance mail", billing rule 80): when an account's
 * available credits fall below its threshold the customer is mailed once per crossing, never once per model call
 * and never twice for one fall, however many instances see it. Like automatic top-up it runs after the change
 * that crossed, never inside it.
 */
export class LowBalanceAlerts {
  constructor(
    private readonly orm: Orm,
    private readonly notifier: Notifier,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly availableOf: (accountId: string) => Promise<number>,
  ) {}

  /** The customer's own threshold (null or 0: off). A new setting starts armed, and is checked at once. */
  async set(accountId: string, belowCredits: number | null): Promise<LowBalanceAlertView> {
    if (
      belowCredits !== null &&
      (!Number.isSafeInteger(belowCredits) || belowCredits < 0 || belowCredits > MAX_BELOW_CREDITS)
    )
      throw new BadUserInputError(
        `belowCredits must be a whole number from 0 to ${MAX_BELOW_CREDITS}, or null to turn the mail off`,
        'belowCredits',
      );
    await this.orm.em.getConnection().execute(
      `insert into credit_low_balance_alert (account_id, below_credits, armed, crossings, updated_at)
       values (?, ?, true, 0, ?)
       on conflict (account_id) do update
          set below_credits = excluded.below_credits, armed = true, updated_at = excluded.updated_at`,
      [accountId, belowCredits ?? 0, this.clock.now()],
      'run',
    );
    // Already below the new threshold: that is a crossing too (as for automatic top-up).
    await this.afterBalanceChange(accountId, await this.availableOf(accountId));
    return this.viewOf(accountId);
  }

  async viewOf(accountId: string): Promise<LowBalanceAlertView> {
    const [row] = await this.orm.em.getConnection().execute<Array<{ own: string | null; below: string }>>(
      `select (select below_credits from credit_low_balance_alert where account_id = ?) as own,
              ${THRESHOLD}::bigint as below`,
      [accountId, accountId, accountId, this.clock.now()],
      'all',
    );
    const below = Number(row?.below ?? 0);
    return { belowCredits: below > 0 ? below : null, isDefault: row?.own == null };
  }

  /** After a committed change of the account's credits (`available` read after it): mails if they crossed. */
  async afterBalanceChange(accountId: string, available: number): Promise<void> {
    try {
      const now = this.clock.now();
      const [crossing] = await this.orm.em
        .getConnection()
        .execute<Array<{ crossings: number; below: string; covered: boolean }>>(
          CHECK,
          [accountId, accountId, accountId, now, now, available, accountId, now, accountId, available],
          'all',
        );
      if (!crossing || crossing.covered) return;
      await this.mail(accountId, available, Number(crossing.below), Number(crossing.crossings));
    } catch (error) {
      // The claim is taken and the mail lost only if the outbox write fails after it: the next crossing mails.
      this.logger.error({ accountId, err: error }, 'low-balance check failed');
    }
  }

  private async mail(accountId: string, available: number, belowCredits: number, crossing: number) {
    await this.orm.em.fork().transactional(async (em) => {
      const customer = await em.findOne(BillingCustomer, { accountId });
      await this.notifier.enqueue(em, {
        kind: 'low_balance',
        accountId,
        recipient: customer?.email ?? null,
        data: { available, belowCredits, crossing },
      });
    });
  }
}
