import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toSubscription } from '../graphql/mappers';
import type { CheckoutSessionView } from '../services/checkout-sessions';
import {
  CheckoutSession,
  CreateCheckoutSessionInput,
  CreatePortalSessionInput,
  PortalSession,
} from '../schema/checkout.type';

@Resolver(() => CheckoutSession)
export class CheckoutResolver {
  @Mutation(() => CheckoutSession, {
    description: 'A Stripe Checkout page for a plan: redirect the user to its url',
  })
  async createCheckoutSession(
    @Arg('input', () => CreateCheckoutSessionInput) input: CreateCheckoutSessionInput,
    @Ctx() context: RequestContext,
  ): Promise<CheckoutSession> {
    const accountId = context.requireCaller().accountId;
    const session = await context.services.stripe.checkout.create(
      context.em,
      context.profileOf(accountId),
      input,
    );
    return view(session, context);
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
    const session = await context.services.stripe.checkout.read(context.em, caller.accountId, id, {
      asAdmin: context.isAdmin,
    });
    return view(session, context);
  }

  @Mutation(() => PortalSession, {
    description: "Stripe's Customer Portal for the caller: redirect the user to its url",
  })
  async createPortalSession(
    @Ctx() context: RequestContext,
    @Arg('input', () => CreatePortalSessionInput, { nullable: true }) input?: CreatePortalSessionInput,
  ): Promise<PortalSession> {
    const accountId = context.requireCaller().accountId;
    return context.services.stripe.portal.create(context.em, context.profileOf(accountId), input?.returnUrl);
  }
}

function view(session: CheckoutSessionView, context: RequestContext): CheckoutSession {
  return {
    id: session.id,
    url: session.url,
    status: session.status,
    subscription: session.subscription
      ? toSubscription(session.subscription, context.services.catalog)
      : null,
  };
}
