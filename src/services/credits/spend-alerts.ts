import { BillingCustomer } from '../../entities';
import type { Notifier } from '../notifications/notifier';
import type { LockedAccount } from './credit-account';
import { type OverageTerms, type PeriodSpend, type SpendWatcher, spentCents } from './credit-overage';

/**
 * Mails at 80 % and at 100 % of an account's spend limit (issue 17 item 5), once each per usage period: the
 * threshold is claimed on the period's `credit_spend` row (`alerted_percent`) in the transaction that crossed it,
 * and the mail is queued in the same transaction (the outbox), so it is neither lost nor sent twice.
 */
export class SpendAlerts implements SpendWatcher {
  constructor(private readonly notifier: Notifier) {}

  async afterSpend(account: LockedAccount, terms: OverageTerms, spend: PeriodSpend): Promise<void> {
    const limit = account.spend.limitCents;
    // No limit, or a limit of 0 (nothing may be spent: there is nothing to warn of).
    if (limit === null || limit === 0) return;
    const spent = spentCents(spend, terms.unitAmountDecimal);
    const threshold = spent >= limit ? 100 : spent * 100 >= limit * 80 ? 80 : null;
    if (threshold === null || threshold <= spend.alertedPercent) return;
    // Only a crossing asks for the ORM (the mail's outbox row): a group below it is run again on it (NeedsOrm).
    const em = account.em;
    if (!em) return;
    const [claimed] = await account.sql<{ alerted_percent: number }>(
      `update credit_spend set alerted_percent = ?
        where account_id = ? and period_start = ? and alerted_percent < ? returning alerted_percent`,
      [threshold, account.accountId, terms.period.start, threshold],
    );
    if (!claimed) return;
    const customer = await em.findOne(BillingCustomer, { accountId: account.accountId });
    await this.notifier.enqueue(em, {
      kind: 'spend_limit_alert',
      accountId: account.accountId,
      recipient: customer?.email ?? null,
      data: {
        thresholdPercent: threshold,
        spentCents: spent,
        limitCents: limit,
        currency: terms.currency,
        periodStart: terms.period.start,
        periodEnd: terms.period.end,
      },
    });
  }
}
