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
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { SubscriptionManager } from '../services/subscriptions/subscription-manager';
import { stripeRequired } from './stripe-required';

@Resolver(() => BillingSubscription)
export class SubscriptionResolver {
  constructor(
    private readonly subscriptions: SubscriptionManager | null,
    private readonly catalog: PlanCatalog,
  ) {}

  private get manager(): SubscriptionManager {
    return stripeRequired(this.subscriptions);
  }

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
    const created = await this.manager.create(context.em, context.profileOf(accountId), input, {
      asAdmin: context.isAdmin,
    });
    return toSubscription(created, this.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Upgrades now (prorated and charged at once) or downgrades and switches interval at the period end. A sales-led subscription changes only through an admin (FORBIDDEN)',
  })
  async changeSubscription(
    @Arg('input', () => ChangeSubscriptionInput) input: ChangeSubscriptionInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const changed = await this.manager.change(context.em, targetOf(context, input.accountId), input, {
      asAdmin: context.isAdmin,
    });
    return toSubscription(changed, this.catalog);
  }

  @Query(() => InvoicePreview, { description: 'What changeSubscription with this input would charge' })
  async previewSubscriptionChange(
    @Arg('input', () => ChangeSubscriptionInput) input: ChangeSubscriptionInput,
    @Ctx() context: RequestContext,
  ): Promise<InvoicePreview> {
    return this.manager.preview(context.em, context.requireCaller().accountId, input);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Cancels at the period end (default) or now (the period’s usage is billed on a final invoice; unused time is not refunded)',
  })
  async cancelSubscription(
    @Ctx() context: RequestContext,
    @Arg('input', () => CancelSubscriptionInput, { nullable: true }) input?: CancelSubscriptionInput,
  ): Promise<BillingSubscription> {
    const canceled = await this.manager.cancel(
      context.em,
      targetOf(context, input?.accountId),
      { atPeriodEnd: input?.atPeriodEnd ?? true },
      { asAdmin: context.isAdmin },
    );
    return toSubscription(canceled, this.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Undoes a cancellation at the period end (a downgrade scheduled before it is scheduled again); LAST_PAYMENT_METHOD when it would renew with no default card to charge',
  })
  async resumeSubscription(
    @Ctx() context: RequestContext,
    @Arg('accountId', () => ID, {
      nullable: true,
      description: 'Admin only: resume this account’s subscription',
    })
    accountId?: string,
  ): Promise<BillingSubscription> {
    const resumed = await this.manager.resume(context.em, targetOf(context, accountId), {
      asAdmin: context.isAdmin,
    });
    return toSubscription(resumed, this.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Ends the trial now: the plan is charged at once and a paid period starts (usage past the allowance is then billed, not refused)',
  })
  async endTrial(@Ctx() context: RequestContext): Promise<BillingSubscription> {
    const ended = await this.manager.endTrial(context.em, context.requireCaller().accountId);
    return toSubscription(ended, this.catalog);
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
