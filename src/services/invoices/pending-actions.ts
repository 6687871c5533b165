import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice } from '../../entities';

/**
 * Stripe expires a subscription whose first invoice is not paid within 23 hours (`incomplete_expired`,
 * https://docs.stripe.com/billing/subscriptions/overview#payment-window).
 */
export const INCOMPLETE_EXPIRY_MS = 23 * 3600 * 1000;

/** A payment waiting for the customer's bank approval: the open invoice, and until when it can be approved. */
export interface PendingAuthentication {
  invoice: Invoice;
  /** A first invoice's subscription expires 23 h after it was created; a renewal's invoice has no such end. */
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
    return accountIds.map((accountId) => newest(rows.filter((row) => row.accountId === accountId)));
  }

  /** The newest pending authentication of each Stripe subscription (in the order asked), or null. */
  async ofSubscriptions(
    em: EntityManager,
    stripeSubscriptionIds: readonly string[],
  ): Promise<(PendingAuthentication | null)[]> {
    const rows = await this.pending(em, { stripeSubscriptionId: { $in: [...stripeSubscriptionIds] } });
    return stripeSubscriptionIds.map((id) => newest(rows.filter((row) => row.stripeSubscriptionId === id)));
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

function newest(rows: Invoice[]): PendingAuthentication | null {
  const invoice = rows[0];
  if (!invoice) return null;
  const expiresAt =
    invoice.billingReason === 'subscription_create'
      ? new Date(invoice.stripeCreatedAt.getTime() + INCOMPLETE_EXPIRY_MS)
      : null;
  return { invoice, expiresAt };
}
