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
 * The account's threshold now (`account`: the SQL of its id, `now` of the moment): its own when it set one (0: off),
 * else 20 % of the included lot of its current period, rounded down (no included credits: 0, off). The included
 * lot is the plan's `credits.included` as the ledger granted it at the period's start (docs/credits.md), so the
 * default follows the plan as included credits do. Also read with the balance row's lock (credit-account.ts).
 */
export function thresholdSql(account: string, now: string): string {
  return `coalesce(
    (select below_credits from credit_low_balance_alert where account_id = ${account}),
    (select lot.credits * ${DEFAULT_PERCENT_OF_INCLUDED} / 100 from credit_lot lot
      where lot.account_id = ${account} and lot.kind = 'included' and lot.expires_at > ${now}
      order by lot.created_at desc limit 1),
    0)`;
}

/** Whether the mail is armed (a fall below the threshold would be a new crossing): true until one is taken. */
export function armedSql(account: string): string {
  return `coalesce((select armed from credit_low_balance_alert where account_id = ${account}), true)`;
}

/** The threshold and whether it is armed, as a change read them with the account's lock (before the change). */
export interface LowBalanceState {
  below: number;
  armed: boolean;
}

/** Parameters: account, account, now. */
const THRESHOLD = thresholdSql('?', '?');

/**
 * What the check reads after every change of every account's credits (parameters: account, account, now,
 * account): the threshold now and whether a fall below it would be a new crossing. One plain read: an account
 * above its threshold, or still below it after the mail, writes and locks nothing.
 */
const STATE = `select ${THRESHOLD}::bigint as below, ${armedSql('?')} as armed`;

/**
 * The claim of a crossing, as automatic top-up's: `on conflict … where armed` takes the row's lock and re-checks
 * `armed` on its latest version, so of many callers seeing one fall (on any instance) exactly one gets a row back.
 * `covered`: automatic top-up is on at or above the threshold, so it (or its own failure mail) tells the customer;
 * the crossing is taken all the same, so turning the top-up off below the threshold mails nothing for this fall.
 */
const CLAIM = `insert into credit_low_balance_alert as current (account_id, below_credits, armed, crossings, updated_at)
  values (?, null, false, 1, ?)
  on conflict (account_id) do update
     set armed = false, crossings = current.crossings + 1, updated_at = excluded.updated_at
   where current.armed
  returning crossings,
    exists (select 1 from credit_auto_top_up top_up
             where top_up.account_id = current.account_id and top_up.enabled
               and ?::bigint <= top_up.below_credits) as covered`;

const REARM = `update credit_low_balance_alert set armed = true, updated_at = ? where account_id = ? and not armed`;

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

  /**
   * After a committed change of the account's credits (`available` read after it): mails if they crossed.
   * `locked`: the state as the change read it with the account's lock; armed and still at or above the threshold
   * there is nothing to do, and nothing is read (the common case: a model call's hold and settle). Anything else
   * reads the state again, as it is now.
   */
  async afterBalanceChange(accountId: string, available: number, locked?: LowBalanceState): Promise<void> {
    if (locked?.armed && available >= locked.below) return;
    try {
      const now = this.clock.now();
      const connection = this.orm.em.getConnection();
      const [state] = await connection.execute<Array<{ below: string; armed: boolean }>>(
        STATE,
        [accountId, accountId, now, accountId],
        'all',
      );
      const below = Number(state?.below ?? 0);
      if (available >= below) {
        // Back at or above the threshold (or it is off): the next fall is a new crossing.
        if (state && !state.armed) await connection.execute(REARM, [now, accountId], 'run');
        return;
      }
      if (!state?.armed) return;
      const [claimed] = await connection.execute<Array<{ crossings: number; covered: boolean }>>(
        CLAIM,
        [accountId, now, below],
        'all',
      );
      if (!claimed || claimed.covered) return;
      await this.mail(accountId, available, below, Number(claimed.crossings));
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
