import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
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
    description:
      'Upgrades now (prorated and charged at once) or downgrades and switches interval at the period end. A sales-led subscription changes only through an admin (FORBIDDEN)',
  })
  async changeSubscription(
    @Arg('input', () => ChangeSubscriptionInput) input: ChangeSubscriptionInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const changed = await context.services.stripe.subscriptions.change(
      context.em,
      targetOf(context, input.accountId),
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

  @Mutation(() => BillingSubscription, {
    description:
      'Cancels at the period end (default) or now (the period’s usage is billed on a final invoice; unused time is not refunded)',
  })
  async cancelSubscription(
    @Ctx() context: RequestContext,
    @Arg('input', () => CancelSubscriptionInput, { nullable: true }) input?: CancelSubscriptionInput,
  ): Promise<BillingSubscription> {
    const canceled = await context.services.stripe.subscriptions.cancel(
      context.em,
      targetOf(context, input?.accountId),
      { atPeriodEnd: input?.atPeriodEnd ?? true },
      { asAdmin: context.isAdmin },
    );
    return toSubscription(canceled, context.services.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Undoes a cancellation at the period end (a downgrade scheduled before it is scheduled again)',
  })
  async resumeSubscription(
    @Ctx() context: RequestContext,
    @Arg('accountId', () => ID, {
      nullable: true,
      description: 'Admin only: resume this account’s subscription',
    })
    accountId?: string,
  ): Promise<BillingSubscription> {
    const resumed = await context.services.stripe.subscriptions.resume(
      context.em,
      targetOf(context, accountId),
      { asAdmin: context.isAdmin },
    );
    return toSubscription(resumed, context.services.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Ends the trial now: the plan is charged at once and a paid period starts (usage past the allowance is then billed, not refused)',
  })
  async endTrial(@Ctx() context: RequestContext): Promise<BillingSubscription> {
    const ended = await context.services.stripe.subscriptions.endTrial(
      context.em,
      context.requireCaller().accountId,
    );
    return toSubscription(ended, context.services.catalog);
  }
}

/** The account a change is for: the caller's own, or (admins only) the one it names. */
function targetOf(context: RequestContext, accountId: string | null | undefined): string {
  return accountId ? adminTarget(context, accountId) : context.requireCaller().accountId;
}

/** Naming another account is for admins (support subscribing an enterprise customer). */
function adminTarget(context: RequestContext, accountId: string): string {
  if (accountId !== context.requireCaller().accountId) context.requireRole('admin');
  return accountId;
}
