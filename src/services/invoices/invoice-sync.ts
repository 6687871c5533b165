import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { readNoLaterThan } from '../../database/newest-read';
import { type BillingCustomer, Invoice } from '../../entities';

/** Writes Stripe's view of an invoice into our table, only if what we read is newer than what we hold. */
export class InvoiceSync {
  async apply(
    em: EntityManager,
    customer: BillingCustomer,
    invoice: Stripe.Invoice,
    observedAt: Date,
  ): Promise<void> {
    const subscription = invoice.parent?.subscription_details?.subscription;
    const line = invoice.lines?.data?.[0];
    const row = {
      stripeInvoiceId: invoice.id as string,
      customer: customer.id,
      accountId: customer.accountId,
      stripeSubscriptionId: typeof subscription === 'string' ? subscription : (subscription?.id ?? null),
      number: invoice.number ?? null,
      status: invoice.status ?? 'draft',
      amountDue: invoice.amount_due,
      amountPaid: invoice.amount_paid,
      amountRemaining: invoice.amount_remaining,
      currency: invoice.currency,
      billingReason: invoice.billing_reason ?? null,
      periodStart: seconds(line?.period?.start ?? invoice.period_start),
      periodEnd: seconds(line?.period?.end ?? invoice.period_end),
      hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
      invoicePdf: invoice.invoice_pdf ?? null,
      stripeCreatedAt: new Date(invoice.created * 1000),
      stripeUpdatedAt: observedAt,
    };
    const changing = Object.keys(row).filter((key) => key !== 'stripeInvoiceId') as Array<keyof Invoice>;
    await em
      .createQueryBuilder(Invoice)
      .insert({ ...row, id: crypto.randomUUID(), createdAt: observedAt, updatedAt: new Date() })
      .onConflict('stripeInvoiceId')
      .merge([...changing, 'updatedAt'])
      .where(readNoLaterThan(observedAt))
      .execute();
  }

  /**
   * Remembers that the customer's bank asked to approve the invoice's payment (3-D Secure). The first ask is kept:
   * the invoice stays the pending authentication until Stripe says it is paid or void.
   */
  async markActionRequired(em: EntityManager, stripeInvoiceId: string, at: Date): Promise<void> {
    await em.nativeUpdate(
      Invoice,
      { stripeInvoiceId, actionRequiredAt: null },
      { actionRequiredAt: at, updatedAt: new Date() },
    );
  }

  /**
   * Keeps what was refunded of an invoice's payments (`charge.refunded`). Refunds only add up, so the larger
   * figure wins whatever order two reads commit in (a refund that fails later and lowers Stripe's figure is
   * not followed: a known limit, see docs/webhooks.md).
   */
  async applyRefunded(em: EntityManager, stripeInvoiceId: string, amountRefunded: number): Promise<void> {
    await em.execute(
      'update invoice set amount_refunded = greatest(amount_refunded, ?), updated_at = ? where stripe_invoice_id = ?',
      [amountRefunded, new Date(), stripeInvoiceId],
    );
  }
}

function seconds(value: number | null | undefined): Date | null {
  return typeof value === 'number' ? new Date(value * 1000) : null;
}
