import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toSubscription } from '../graphql/mappers';
import type { CheckoutSessions, CheckoutSessionView } from '../services/checkout/checkout-sessions';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { PortalSessions } from '../services/checkout/portal-sessions';
import { stripeRequired } from './stripe-required';
import {
  CheckoutSession,
  CreateCheckoutSessionInput,
  CreatePortalSessionInput,
  PortalSession,
} from '../schema/checkout.type';

@Resolver(() => CheckoutSession)
export class CheckoutResolver {
  constructor(
    private readonly checkouts: CheckoutSessions | null,
    private readonly portals: PortalSessions | null,
    private readonly catalog: PlanCatalog,
  ) {}

  @Mutation(() => CheckoutSession, {
    description: 'A Stripe Checkout page for a plan: redirect the user to its url',
  })
  async createCheckoutSession(
    @Arg('input', () => CreateCheckoutSessionInput) input: CreateCheckoutSessionInput,
    @Ctx() context: RequestContext,
  ): Promise<CheckoutSession> {
    const accountId = context.requireCaller().accountId;
    const session = await stripeRequired(this.checkouts).create(
      context.em,
      context.profileOf(accountId),
      input,
    );
    return this.view(session);
  }

  @Query(() => CheckoutSession, {
    nullable: true,
    description:
      'For the success page: reads the session from Stripe and, once complete, stores its subscription',
  })
  async checkoutSession(
    @Arg('id', () => ID) id: string,
    @Ctx() context: RequestContext,
  ): Promise<CheckoutSession> {
    const caller = context.requireCaller();
    const session = await stripeRequired(this.checkouts).read(context.em, caller.accountId, id, {
      asAdmin: context.isAdmin,
    });
    return this.view(session);
  }

  @Mutation(() => PortalSession, {
    description: "Stripe's Customer Portal for the caller: redirect the user to its url",
  })
  async createPortalSession(
    @Ctx() context: RequestContext,
    @Arg('input', () => CreatePortalSessionInput, { nullable: true }) input?: CreatePortalSessionInput,
  ): Promise<PortalSession> {
    const accountId = context.requireCaller().accountId;
    return stripeRequired(this.portals).create(context.em, context.profileOf(accountId), input?.returnUrl);
  }

  private view(session: CheckoutSessionView): CheckoutSession {
    return {
      id: session.id,
      url: session.url,
      status: session.status,
      subscription: session.subscription ? toSubscription(session.subscription, this.catalog) : null,
    };
  }
}
