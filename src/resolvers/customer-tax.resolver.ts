import { Arg, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Customer } from '../schema/customer.type';
import { AddTaxIdInput, TaxId } from '../schema/tax.type';
import type { CustomerTaxIds, CustomerTaxView } from '../services/accounts/customer-tax-ids';
import { stripeRequired } from './stripe-required';

/** One Stripe read per customer per request, whichever of its tax fields are asked for. */
const readsOfRequest = new WeakMap<RequestContext, Map<string, Promise<CustomerTaxView>>>();

/** The customer's tax IDs and tax exemption (Stripe Tax, ADR 0024), read from Stripe when asked. */
@Resolver(() => Customer)
export class CustomerTaxResolver {
  constructor(private readonly customerTaxIds: CustomerTaxIds | null) {}

  @Mutation(() => TaxId, {
    description:
      "Adds a tax ID (a VAT number) to the caller's customer; Stripe checks the format (STRIPE_ERROR tax_id_invalid) and verifies EU and GB VAT numbers. The same type and value again changes nothing",
  })
  async addTaxId(
    @Arg('input', () => AddTaxIdInput) input: AddTaxIdInput,
    @Ctx() context: RequestContext,
  ): Promise<TaxId> {
    const accountId = context.requireCaller().accountId;
    return stripeRequired(this.customerTaxIds).add(context.em, context.profileOf(accountId), input);
  }

  @Mutation(() => Boolean, {
    description: "Removes one of the caller's tax IDs (NOT_FOUND for any other id)",
  })
  async removeTaxId(
    @Arg('id', () => ID, { description: 'The tax ID id (txi_…)' }) id: string,
    @Ctx() context: RequestContext,
  ): Promise<boolean> {
    await stripeRequired(this.customerTaxIds).remove(context.em, context.requireCaller().accountId, id);
    return true;
  }

  @FieldResolver(() => [TaxId], {
    description: 'VAT and other tax IDs, with Stripe’s verification (read from Stripe)',
  })
  async taxIds(@Root() customer: Customer, @Ctx() context: RequestContext): Promise<TaxId[]> {
    return (await this.read(customer, context)).taxIds;
  }

  @FieldResolver(() => String, {
    description: "Stripe's tax exemption status: none, exempt or reverse (read from Stripe)",
  })
  async taxExempt(@Root() customer: Customer, @Ctx() context: RequestContext): Promise<string> {
    return (await this.read(customer, context)).taxExempt;
  }

  private read(customer: Customer, context: RequestContext): Promise<CustomerTaxView> {
    const service = stripeRequired(this.customerTaxIds);
    let reads = readsOfRequest.get(context);
    if (!reads) {
      reads = new Map();
      readsOfRequest.set(context, reads);
    }
    let read = reads.get(customer.id);
    if (!read) {
      read = service.of(customer.id);
      reads.set(customer.id, read);
    }
    return read;
  }
}
