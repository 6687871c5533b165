import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toSubscription } from '../graphql/mappers';
import { InvoicePreview } from '../schema/invoice-preview.type';
import {
  CancelSubscriptionInput,
  ChangeSubscriptionInput,
  CreateSubscriptionInput,
} from '../schema/subscription-inputs';
import { BillingSubscription } from '../schema/subscription.type';

@Resolver(() => BillingSubscription)
export class SubscriptionResolver {
  @Mutation(() => BillingSubscription, {
    description: 'Subscribes the account with a payment method, or a trial',
  })
  async createSubscription(
    @Arg('input', () => CreateSubscriptionInput) input: CreateSubscriptionInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const accountId = input.accountId
      ? adminTarget(context, input.accountId)
      : context.requireCaller().accountId;
    const created = await context.services.stripe.subscriptions.create(
      context.em,
      context.profileOf(accountId),
      input,
      { asAdmin: context.isAdmin },
    );
    return toSubscription(created, context.services.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description: 'Upgrades now (prorated) or downgrades at the period end',
  })
  async changeSubscription(
    @Arg('input', () => ChangeSubscriptionInput) input: ChangeSubscriptionInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const changed = await context.services.stripe.subscriptions.change(
      context.em,
      context.requireCaller().accountId,
      input,
      { asAdmin: context.isAdmin },
    );
    return toSubscription(changed, context.services.catalog);
  }

  @Query(() => InvoicePreview, { description: 'What changeSubscription with this input would charge' })
  async previewSubscriptionChange(
    @Arg('input', () => ChangeSubscriptionInput) input: ChangeSubscriptionInput,
    @Ctx() context: RequestContext,
  ): Promise<InvoicePreview> {
    return context.services.stripe.subscriptions.preview(
      context.em,
      context.requireCaller().accountId,
      input,
    );
  }

  @Mutation(() => BillingSubscription, { description: 'Cancels at the period end (default) or now' })
  async cancelSubscription(
    @Ctx() context: RequestContext,
    @Arg('input', () => CancelSubscriptionInput, { nullable: true }) input?: CancelSubscriptionInput,
  ): Promise<BillingSubscription> {
    const canceled = await context.services.stripe.subscriptions.cancel(
      context.em,
      context.requireCaller().accountId,
      {
        atPeriodEnd: input?.atPeriodEnd ?? true,
      },
    );
    return toSubscription(canceled, context.services.catalog);
  }

  @Mutation(() => BillingSubscription, { description: 'Undoes a cancellation at the period end' })
  async resumeSubscription(@Ctx() context: RequestContext): Promise<BillingSubscription> {
    const resumed = await context.services.stripe.subscriptions.resume(
      context.em,
      context.requireCaller().accountId,
    );
    return toSubscription(resumed, context.services.catalog);
  }
}

/** Naming another account is for admins (support subscribing an enterprise customer). */
function adminTarget(context: RequestContext, accountId: string): string {
  if (accountId !== context.requireCaller().accountId) context.requireRole('admin');
  return accountId;
}
