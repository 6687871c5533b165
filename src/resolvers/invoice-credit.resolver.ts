import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toInvoice } from '../graphql/mappers';
import { InvoiceDetails } from '../schema/invoice-details.type';
import { RefundInvoiceInput } from '../schema/refund.type';
import type { InvoiceCredits } from '../services/invoices/invoice-credits';
import type { InvoiceDetails as InvoiceDetailsService } from '../services/invoices/invoice-details';
import { NotFoundError } from '../errors';
import { stripeRequired } from './stripe-required';

/** Admins give money back: a refund to the card or a credit to the balance, always as a Stripe credit note. */
@Resolver(() => InvoiceDetails)
export class InvoiceCreditResolver {
  constructor(
    private readonly credits: InvoiceCredits | null,
    private readonly details: InvoiceDetailsService | null,
  ) {}

  @Mutation(() => InvoiceDetails, {
    description:
      'Admin: refunds part or all of an invoice through a Stripe credit note (to the card or the customer balance); REFUND_EXCEEDS_PAID past what its payments still hold',
  })
  async refundInvoice(
    @Arg('input', () => RefundInvoiceInput) input: RefundInvoiceInput,
    @Ctx() context: RequestContext,
  ): Promise<InvoiceDetails> {
    const admin = context.requireRole('admin');
    const row = await stripeRequired(this.credits).refund(context.em, {
      stripeInvoiceId: input.invoiceId,
      amount: input.amount,
      reason: input.reason ?? null,
      to: input.to,
      idempotencyKey: input.idempotencyKey,
      requestedBy: admin.accountId,
    });
    const found = await stripeRequired(this.details).ofInvoice(
      context.em,
      row.accountId,
      row.stripeInvoiceId,
    );
    if (!found) throw new NotFoundError('This invoice');
    const { row: refreshed, ...figures } = found;
    return { ...figures, invoice: toInvoice(refreshed) };
  }
}
