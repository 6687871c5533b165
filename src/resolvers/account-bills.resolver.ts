import { Arg, Ctx, FieldResolver, ID, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toInvoice } from '../graphql/mappers';
import { Account } from '../schema/account.type';
import { InvoiceDetails, UpcomingInvoice } from '../schema/invoice-details.type';
import type { InvoiceDetails as InvoiceDetailsService } from '../services/invoices/invoice-details';
import { stripeRequired } from './stripe-required';

/** An account's bills in full, read from Stripe when asked: the next one, and any issued one with its lines. */
@Resolver(() => Account)
export class AccountBillsResolver {
  constructor(private readonly details: InvoiceDetailsService | null) {}

  @FieldResolver(() => UpcomingInvoice, {
    nullable: true,
    description: "The next bill (Stripe's preview of the live subscription's next invoice); null without one",
  })
  async upcomingInvoice(
    @Root() account: Account,
    @Ctx() context: RequestContext,
  ): Promise<UpcomingInvoice | null> {
    context.requireAccountAccess(account.id);
    return stripeRequired(this.details).upcoming(context.em, account.id);
  }

  @FieldResolver(() => InvoiceDetails, {
    nullable: true,
    description: "One of the account's invoices in full (lines, totals, attempts); null for any other id",
  })
  async invoice(
    @Root() account: Account,
    @Arg('id', () => ID, { description: 'The Stripe invoice id (in_…)' }) id: string,
    @Ctx() context: RequestContext,
  ): Promise<InvoiceDetails | null> {
    context.requireAccountAccess(account.id);
    const found = await stripeRequired(this.details).ofInvoice(context.em, account.id, id);
    if (!found) return null;
    const { row, ...figures } = found;
    return { ...figures, invoice: toInvoice(row) };
  }
}
