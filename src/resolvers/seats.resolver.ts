import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toPlanPrice, toSubscription } from '../graphql/mappers';
import { PlanPrice } from '../schema/plan.type';
import { SetSeatsInput, SubscriptionSeats } from '../schema/seats.type';
import { BillingSubscription } from '../schema/subscription.type';
import type { CustomerCurrency } from '../services/accounts/customer-currency';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { SeatChanges } from '../services/subscriptions/seat-changes';
import { stripeRequired } from './stripe-required';

@Resolver(() => SubscriptionSeats)
export class SeatsResolver {
  constructor(
    private readonly seats: SeatChanges | null,
    private readonly catalog: PlanCatalog,
    private readonly currencies: CustomerCurrency,
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

  @FieldResolver(() => PlanPrice, {
    description: 'What one more seat costs on the subscription’s interval, in the account’s currency',
  })
  async pricePerSeat(@Root() seats: SubscriptionSeats, @Ctx() context: RequestContext): Promise<PlanPrice> {
    const price = this.catalog
      .plan(seats.planKey)
      .seats?.prices.find((candidate) => candidate.interval === seats.interval);
    // `toSubscriptionSeats` gives seats only to a plan with a seat price of the subscription's interval.
    if (!price) throw new Error(`no ${seats.interval}ly seat price on ${seats.planKey}`);
    const customer = await context.loaders.customerByAccount.load(seats.accountId);
    return toPlanPrice(price, this.currencies.of(customer), this.catalog.currencies);
  }

  @FieldResolver(() => Int, { description: 'Seats taken now (the `seats` gauge)' })
  async taken(@Root() seats: SubscriptionSeats, @Ctx() context: RequestContext): Promise<number> {
    return this.seats ? this.seats.taken(context.em, seats.accountId) : 0;
  }
}
