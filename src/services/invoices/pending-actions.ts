import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice, Subscription } from '../../entities';

/**
 * Stripe expires a subscription whose first invoice is not paid within 23 hours (`incomplete_expired`,
 * https://docs.stripe.com/billing/subscriptions/overview#payment-window).
 */
export const INCOMPLETE_EXPIRY_MS = 23 * 3600 * 1000;

/** A payment waiting for the customer's bank approval: the open invoice, and until when it can be approved. */
export interface PendingAuthentication {
  invoice: Invoice;
  /**
   * A first invoice's subscription expires 23 h after it was created; a plan change's invoice when Stripe drops
   * the pending change (`pending_update.expires_at`); a renewal's invoice has no such end.
   */
  expiresAt: Date | null;
}

/**
 * The payments waiting for the customer (3-D Secure): open invoices whose bank asked to approve them
 * (`Invoice.actionRequiredAt`). Paid or voided (Stripe's word, by webhook), an invoice is no longer pending.
 */
export class PendingActions {
  /** The newest pending authentication of each account (in the order asked), or null. */
  async ofAccounts(
    em: EntityManager,
    accountIds: readonly string[],
  ): Promise<(PendingAuthentication | null)[]> {
    const rows = await this.pending(em, { accountId: { $in: [...accountIds] } });
    const changes = await this.pendingChangeExpiries(em, rows);
    return accountIds.map((accountId) =>
      newest(
        rows.filter((row) => row.accountId === accountId),
        changes,
      ),
    );
  }

  /** The newest pending authentication of each Stripe subscription (in the order asked), or null. */
  async ofSubscriptions(
    em: EntityManager,
    stripeSubscriptionIds: readonly string[],
  ): Promise<(PendingAuthentication | null)[]> {
    const rows = await this.pending(em, { stripeSubscriptionId: { $in: [...stripeSubscriptionIds] } });
    const changes = await this.pendingChangeExpiries(em, rows);
    return stripeSubscriptionIds.map((id) =>
      newest(
        rows.filter((row) => row.stripeSubscriptionId === id),
        changes,
      ),
    );
  }

  /**
   * When the plan changes waiting on these invoices expire, by Stripe subscription: one more query, and only when a
   * pending invoice is a change's (`subscription_update`), the rare case.
   */
  private async pendingChangeExpiries(em: EntityManager, rows: Invoice[]): Promise<Map<string, Date>> {
    const ids = rows
      .filter((row) => row.billingReason === 'subscription_update' && row.stripeSubscriptionId)
      .map((row) => row.stripeSubscriptionId as string);
    if (ids.length === 0) return new Map();
    const subscriptions = await em.find(
      Subscription,
      { stripeSubscriptionId: { $in: ids }, pendingChangeExpiresAt: { $ne: null } },
      { fields: ['stripeSubscriptionId', 'pendingChangeExpiresAt'], disableIdentityMap: true },
    );
    return new Map(
      subscriptions.map((row) => [row.stripeSubscriptionId, row.pendingChangeExpiresAt as Date]),
    );
  }

  private pending(
    em: EntityManager,
    where: { accountId: { $in: string[] } } | { stripeSubscriptionId: { $in: string[] } },
  ): Promise<Invoice[]> {
    return em.find(
      Invoice,
      { ...where, status: 'open', actionRequiredAt: { $ne: null } },
      { orderBy: { stripeCreatedAt: 'desc' }, disableIdentityMap: true },
    );
  }
}

function newest(rows: Invoice[], changeExpiries: Map<string, Date>): PendingAuthentication | null {
  const invoice = rows[0];
  if (!invoice) return null;
  if (invoice.billingReason === 'subscription_create')
    return { invoice, expiresAt: new Date(invoice.stripeCreatedAt.getTime() + INCOMPLETE_EXPIRY_MS) };
  const changeExpiry = invoice.stripeSubscriptionId ? changeExpiries.get(invoice.stripeSubscriptionId) : null;
  return { invoice, expiresAt: changeExpiry ?? null };
}
