import type { GraphQLSchema } from 'graphql';
import type { Orm } from '../database/database';
import { RequestContext } from '../graphql/context';
import { limitMutations } from '../graphql/rate-limit';
import type { ContextFactory } from '../http/graphql-http';
import type { BillingPubSub } from '../pubsub/pubsub';
import {
  AccountPendingActionResolver,
  AccountResolver,
  AccountBillsResolver,
  buildBillingSchema,
  CardResolver,
  CheckoutResolver,
  CreditResolver,
  LowBalanceAlertResolver,
  MemberLimitResolver,
  SpendLimitResolver,
  BalanceSpendResolver,
  CreditPurchaseResolver,
  AutoTopUpResolver,
  CustomerResolver,
  CustomerTaxResolver,
  InvoiceCreditResolver,
  PlanResolver,
  RateCardResolver,
  type Resolvers,
  RevenueResolver,
  ServiceInfoResolver,
  SubscriptionPendingActionResolver,
  PendingActionSecretResolver,
  SubscriptionResolver,
  PromotionCodeResolver,
  AddonResolver,
  SeatsResolver,
  UsageResolver,
  WebhookEventResolver,
} from '../resolvers';
import { PendingActions } from '../services/invoices/pending-actions';
import type { MutationRateLimiter } from '../services/rate-limit/mutation-rate-limiter';
import type { UsageServices } from '../services/usage/usage-services';
import type { CoreServices } from './core-services';
import type { CreditPurchaseServices } from './credit-purchase-services';
import type { CreditServices } from './credit-services';
import type { StripeServices } from './stripe-services';
import type { WebhookAdmin } from './webhook-pipeline';

/** Each resolver gets the services it calls, and only those (null where this instance has no Stripe). */
export function buildResolvers(
  core: CoreServices,
  stripe: StripeServices | null,
  usage: UsageServices,
  credits: CreditServices,
  purchases: CreditPurchaseServices | null,
  webhooks: WebhookAdmin,
): Resolvers {
  const pendingActions = new PendingActions();
  return {
    serviceInfo: new ServiceInfoResolver(),
    plan: new PlanResolver(core.catalog, core.currencies),
    rateCard: new RateCardResolver(core.catalog, core.currencies, core.clock),
    account: new AccountResolver(
      core.accountReads,
      core.catalog,
      core.provisioner,
      core.clock,
      core.currencies,
    ),
    accountBills: new AccountBillsResolver(stripe?.invoiceDetails ?? null),
    invoiceCredit: new InvoiceCreditResolver(stripe?.invoiceCredits ?? null, stripe?.invoiceDetails ?? null),
    customer: new CustomerResolver(stripe?.customerProfiles ?? null),
    customerTax: new CustomerTaxResolver(stripe?.taxIds ?? null),
    subscription: new SubscriptionResolver(stripe?.subscriptions ?? null, core.catalog),
    promotionCode: new PromotionCodeResolver(stripe?.promotions ?? null, core.catalog),
    addon: new AddonResolver(stripe?.addons ?? null, core.catalog, core.currencies),
    seats: new SeatsResolver(stripe?.seats ?? null, core.catalog, core.currencies),
    checkout: new CheckoutResolver(stripe?.checkout ?? null, stripe?.portal ?? null, core.catalog),
    card: new CardResolver(stripe?.cardSetups ?? null, stripe?.cardChoices ?? null),
    usage: new UsageResolver(usage.meter, usage.reservations, usage.overrides, credits.tokenReservations),
    credit: new CreditResolver(credits.ledger, credits.included),
    memberLimit: new MemberLimitResolver(credits.memberLimits),
    spendLimit: new SpendLimitResolver(credits.spendLimits),
    balanceSpend: new BalanceSpendResolver(credits.spendLimits),
    creditPurchase: new CreditPurchaseResolver(purchases?.checkout ?? null, purchases?.purchases ?? null),
    autoTopUp: new AutoTopUpResolver(purchases?.autoTopUps ?? null),
    lowBalanceAlert: new LowBalanceAlertResolver(credits.lowBalanceAlerts, credits.included),
    webhookEvent: new WebhookEventResolver(webhooks.inbox, webhooks.reconciler),
    revenue: new RevenueResolver(core.catalog, core.clock),
    accountPendingAction: new AccountPendingActionResolver(pendingActions),
    subscriptionPendingAction: new SubscriptionPendingActionResolver(pendingActions),
    pendingActionSecret: new PendingActionSecretResolver(stripe?.invoiceDetails ?? null),
  };
}

/** The executable schema, its mutations held to the per-caller rate limits. */
export async function buildGraphQLSchema(
  pubSub: BillingPubSub,
  resolvers: Resolvers,
  limiter: MutationRateLimiter,
): Promise<GraphQLSchema> {
  return limitMutations(await buildBillingSchema(pubSub, resolvers), limiter);
}

/** Every operation's context: its caller, and what its loaders read with. */
export function contextFactory(orm: Orm, core: CoreServices, usage: UsageServices): ContextFactory {
  const reads = { accounts: core.accountReads, usage };
  return (caller, requestId, log) => new RequestContext(caller, requestId, orm, reads, log);
}
