import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toSubscription } from '../graphql/mappers';
import { SetSeatsInput, SubscriptionSeats } from '../schema/seats.type';
import { BillingSubscription } from '../schema/subscription.type';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { SeatChanges } from '../services/subscriptions/seat-changes';
import { stripeRequired } from './stripe-required';

@Resolver(() => SubscriptionSeats)
export class SeatsResolver {
  constructor(
    private readonly seats: SeatChanges | null,
    private readonly catalog: PlanCatalog,
  ) {}

  @Mutation(() => BillingSubscription, {
    description:
      'Sets the seats of a plan priced per seat (`quantity` in all, included ones counted). More seats are charged now, prorated over the rest of the period; fewer take effect at the period end (no refund). Above the plan’s maximum: BAD_USER_INPUT; below the seats taken: SEATS_IN_USE',
  })
  async setSeats(
    @Arg('input', () => SetSeatsInput) input: SetSeatsInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const caller = context.requireCaller().accountId;
    // Naming another account is for admins (support acting for a customer), as every admin mutation does.
    if (input.accountId && input.accountId !== caller) context.requireRole('admin');
    const accountId = input.accountId ?? caller;
    const updated = await stripeRequired(this.seats).setSeats(context.em, accountId, input.quantity, {
      asAdmin: context.isAdmin,
    });
    return toSubscription(updated, this.catalog);
  }

  @FieldResolver(() => Int, { description: 'Seats taken now (the `seats` gauge)' })
  async taken(@Root() seats: SubscriptionSeats, @Ctx() context: RequestContext): Promise<number> {
    return this.seats ? this.seats.taken(context.em, seats.accountId) : 0;
  }
}
