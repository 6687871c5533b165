import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toCustomer } from '../graphql/mappers';
import { Customer, UpdateCustomerInput } from '../schema/customer.type';
import type { CustomerProfileUpdates } from '../services/accounts/customer-profile-updates';
import { stripeRequired } from './stripe-required';

@Resolver(() => Customer)
export class CustomerResolver {
  constructor(private readonly profiles: CustomerProfileUpdates | null) {}

  @Mutation(() => Customer, { description: "Updates the caller's Stripe customer (created on first use)" })
  async updateCustomer(
    @Arg('input', () => UpdateCustomerInput) input: UpdateCustomerInput,
    @Ctx() context: RequestContext,
  ): Promise<Customer> {
    const accountId = context.requireCaller().accountId;
    const { address } = input;
    const updated = await stripeRequired(this.profiles).update(context.em, context.profileOf(accountId), {
      email: input.email,
      name: input.name,
      address:
        address === undefined
          ? undefined
          : address && {
              line1: address.line1 ?? null,
              line2: address.line2 ?? null,
              city: address.city ?? null,
              state: address.state ?? null,
              postalCode: address.postalCode ?? null,
              country: address.country ?? null,
            },
    });
    return toCustomer(updated) as Customer;
  }
}
