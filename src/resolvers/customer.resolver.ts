import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toCustomer } from '../graphql/mappers';
import { Customer, UpdateCustomerInput } from '../schema/customer.type';

@Resolver(() => Customer)
export class CustomerResolver {
  @Mutation(() => Customer, { description: "Updates the caller's Stripe customer (created on first use)" })
  async updateCustomer(
    @Arg('input', () => UpdateCustomerInput) input: UpdateCustomerInput,
    @Ctx() context: RequestContext,
  ): Promise<Customer> {
    const accountId = context.requireCaller().accountId;
    const { customers } = context.services.stripe;
    await customers.ensure(context.em, context.profileOf(accountId));
    const updated = await customers.update(context.em, accountId, {
      email: input.email,
      name: input.name,
      address:
        input.address === undefined
          ? undefined
          : input.address && {
              line1: input.address.line1 ?? null,
              line2: input.address.line2 ?? null,
              city: input.address.city ?? null,
              state: input.address.state ?? null,
              postalCode: input.address.postalCode ?? null,
              country: input.address.country ?? null,
            },
    });
    await context.services.events.accountUpdated(accountId, 'customer.updated');
    return toCustomer(updated) as Customer;
  }
}
