import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toCustomer, toInvoice, toPaymentMethod, toPlan, toSubscription } from '../graphql/mappers';
import { type AccountUpdatedPayload, Topic } from '../pubsub/topics';
import { Account, AccountConnection, accountOf } from '../schema/account.type';
import { Customer } from '../schema/customer.type';
import { Entitlement, FeatureAccess, UsageSummary } from '../schema/entitlement.type';
import { InvoiceConnection } from '../schema/invoice.type';
import { PaymentMethod } from '../schema/payment-method.type';
import { Plan } from '../schema/plan.type';
import { BillingSubscription } from '../schema/subscription.type';
import type { AccountReads } from '../services/accounts/account-reads';
import type { CustomerCurrency } from '../services/accounts/customer-currency';
import type { Clock } from '../services/time/clock';
import type { FeatureProvisioner } from '../services/subscriptions/feature-provisioner';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import { decodeCursor, encodeCursor, pageSize } from './pagination';
import type { MetricKey } from '../services/plans/plan.types';
import { decideFeatureAccess } from '../services/usage/feature-access';
import { isMetricKey } from '../services/usage/usage-validation';

@Resolver(() => Account)
export class AccountResolver {
  constructor(
    private readonly reads: AccountReads,
    private readonly catalog: PlanCatalog,
    private readonly provisioner: FeatureProvisioner,
    private readonly clock: Clock,
    private readonly currencies: CustomerCurrency,
  ) {}

  @Query(() => Account, { description: "The caller's own account" })
  viewer(@Ctx() context: RequestContext): Account {
    return accountOf(context.requireCaller().accountId);
  }

  @Query(() => Account, { nullable: true, description: 'Admin or service role: any account by id' })
  account(@Arg('id', () => ID) id: string, @Ctx() context: RequestContext): Account {
    context.requireRole('admin', 'service');
    return accountOf(id);
  }

  @Query(() => AccountConnection, { description: 'Admin: accounts with a billing customer, by account id' })
  async accounts(
    @Ctx() context: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<AccountConnection> {
    context.requireRole('admin');
    const size = pageSize(first);
    const afterAccountId = after ? Buffer.from(after, 'base64url').toString('utf8') : null;
    const page = await this.reads.accountsWithCustomer(context.em, size, afterAccountId);
    const last = page.accountIds.at(-1);
    return {
      nodes: page.accountIds.map(accountOf),
      pageInfo: {
        hasNextPage: page.hasNextPage,
        endCursor: last ? Buffer.from(last).toString('base64url') : null,
      },
    };
  }

  @FieldResolver(() => Customer, { nullable: true })
  async customer(@Root() account: Account, @Ctx() context: RequestContext): Promise<Customer | null> {
    checkAccess(account, context);
    const row = await context.loaders.customerByAccount.load(account.id);
    return row ? toCustomer(row) : null;
  }

  @FieldResolver(() => BillingSubscription, { nullable: true, description: 'The live subscription, if any' })
  async subscription(
    @Root() account: Account,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription | null> {
    checkAccess(account, context);
    const row = await context.loaders.subscriptionByAccount.load(account.id);
    return row ? toSubscription(row, this.catalog) : null;
  }

  @FieldResolver(() => Plan, { description: 'The effective plan: free without a live subscription' })
  async plan(@Root() account: Account, @Ctx() context: RequestContext): Promise<Plan> {
    checkAccess(account, context);
    const subscription = await context.loaders.subscriptionByAccount.load(account.id);
    const customer = await context.loaders.customerByAccount.load(account.id);
    return toPlan(
      this.provisioner.effectivePlan(subscription, this.clock.now()),
      this.currencies.of(customer),
    );
  }

  @FieldResolver(() => String, {
    description:
      'ISO 4217, lower case: the currency the account pays in. Chosen once (createCheckoutSession or createSubscription `currency`, else the billing country: euro-area countries pay EUR, else the base currency) and kept; before the first choice, what the billing country would choose',
  })
  async currency(@Root() account: Account, @Ctx() context: RequestContext): Promise<string> {
    checkAccess(account, context);
    return this.currencies.of(await context.loaders.customerByAccount.load(account.id));
  }

  @FieldResolver(() => [Entitlement], {
    description: 'As provisioned: the effective plan, with any admin override; metrics carry their usage',
  })
  async entitlements(@Root() account: Account, @Ctx() context: RequestContext): Promise<Entitlement[]> {
    const { allowances, usage } = await usageOf(account, context);
    return [
      ...[...allowances.features].map(([feature, enabled]) => ({
        feature,
        enabled,
        limit: null,
        used: null,
      })),
      ...usage.map((figures) => ({
        feature: figures.metric,
        enabled: allowances.metrics.get(figures.metric as MetricKey)?.enabled ?? false,
        limit: figures.included,
        used: figures.used,
      })),
    ];
  }

  @FieldResolver(() => FeatureAccess, {
    description: 'May the account use this feature (or metric) now? Served from cache: the hot path',
  })
  async feature(
    @Root() account: Account,
    @Arg('key', () => String) key: string,
    @Ctx() context: RequestContext,
  ): Promise<FeatureAccess> {
    checkAccess(account, context);
    // From the feature gate's cache. A metric needs its usage too (one batch: allowances and counters).
    const loaders = context.usageLoaders;
    if (!isMetricKey(key))
      return decideFeatureAccess(await loaders.cachedAllowances.load(account.id), key, null);
    const { allowances, usage } = await loaders.cachedUsage.load(account.id);
    return decideFeatureAccess(allowances, key, usage.find((figures) => figures.metric === key) ?? null);
  }

  @FieldResolver(() => [UsageSummary], { description: 'Usage of every metric in the current usage period' })
  async usage(@Root() account: Account, @Ctx() context: RequestContext): Promise<UsageSummary[]> {
    return (await usageOf(account, context)).usage;
  }

  @FieldResolver(() => InvoiceConnection)
  async invoices(
    @Root() account: Account,
    @Ctx() context: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<InvoiceConnection> {
    checkAccess(account, context);
    const size = pageSize(first);
    const page = await context.loaders.invoicesByAccount.load({
      accountId: account.id,
      first: size,
      after: after ? decodeCursor(after) : null,
    });
    const last = page.rows.at(-1);
    return {
      nodes: page.rows.map(toInvoice),
      pageInfo: {
        hasNextPage: page.hasNextPage,
        endCursor: last ? encodeCursor({ createdAtMs: last.stripeCreatedAt.getTime(), id: last.id }) : null,
      },
    };
  }

  @FieldResolver(() => [PaymentMethod])
  async paymentMethods(@Root() account: Account, @Ctx() context: RequestContext): Promise<PaymentMethod[]> {
    checkAccess(account, context);
    return (await context.loaders.paymentMethodsByAccount.load(account.id)).map(toPaymentMethod);
  }

  @Subscription(() => Account, {
    description: "Any billing change of the caller's account (an admin may name another account)",
    topics: Topic.ACCOUNT_UPDATED,
    // The channel is the account's own: a subscriber can never receive another account's events.
    topicId: ({ args, context }) => subscribedAccountId(context as RequestContext, args.accountId),
  })
  accountUpdated(
    @Root() payload: AccountUpdatedPayload,
    @Ctx() context: RequestContext,
    @Arg('accountId', () => ID, { nullable: true, description: 'Admin only: the account to follow' })
    _accountId?: string,
  ): Account {
    context.startNextEvent();
    return accountOf(payload.accountId);
  }
}

/** Access is the caller's own account, or any for the admin and service roles. */
function checkAccess(account: Account, context: RequestContext): void {
  context.requireAccountAccess(account.id);
}

/** The account's allowances and its usage of every metric now, through the request's loaders. */
async function usageOf(account: Account, context: RequestContext) {
  checkAccess(account, context);
  return context.usageLoaders.usage.load(account.id);
}

function subscribedAccountId(context: RequestContext, requested: unknown): string {
  const caller = context.requireCaller();
  if (typeof requested !== 'string' || requested === caller.accountId) return caller.accountId;
  context.requireRole('admin');
  return requested;
}
