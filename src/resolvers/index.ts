import { type GraphQLSchema, printSchema } from 'graphql';
import { buildSchema, type ContainerType, type NonEmptyArray } from 'type-graphql';
import { InMemoryPubSub } from '../pubsub/in-memory-pubsub';
import type { BillingPubSub } from '../pubsub/pubsub';
import { AccountResolver } from './account.resolver';
import { AccountBillsResolver } from './account-bills.resolver';
import { CardResolver } from './card.resolver';
import { CheckoutResolver } from './checkout.resolver';
import { CreditResolver } from './credit.resolver';
import { AutoTopUpResolver } from './auto-top-up.resolver';
import { CreditPurchaseResolver } from './credit-purchase.resolver';
import { CustomerResolver } from './customer.resolver';
import { CustomerTaxResolver } from './customer-tax.resolver';
import { InvoiceCreditResolver } from './invoice-credit.resolver';
import { LowBalanceAlertResolver } from './low-balance-alert.resolver';
import { MemberLimitResolver } from './member-limit.resolver';
import { BalanceSpendResolver, SpendLimitResolver } from './spend-limit.resolver';
import { PlanResolver } from './plan.resolver';
import { RateCardResolver } from './rate-card.resolver';
import { PromotionCodeResolver } from './promotion-code.resolver';
import { AddonResolver } from './addon.resolver';
import { RevenueResolver } from './revenue.resolver';
import { SeatsResolver } from './seats.resolver';
import { ServiceInfoResolver } from './service-info.resolver';
import { SubscriptionResolver } from './subscription.resolver';
import { UsageResolver } from './usage.resolver';
import { WebhookEventResolver } from './webhook-event.resolver';
import {
  AccountPendingActionResolver,
  PendingActionSecretResolver,
  SubscriptionPendingActionResolver,
} from './pending-action.resolver';

export {
  AccountResolver,
  AccountBillsResolver,
  CardResolver,
  CheckoutResolver,
  CreditResolver,
  CreditPurchaseResolver,
  AutoTopUpResolver,
  CustomerResolver,
  CustomerTaxResolver,
  InvoiceCreditResolver,
  LowBalanceAlertResolver,
  MemberLimitResolver,
  SpendLimitResolver,
  BalanceSpendResolver,
  PlanResolver,
  PromotionCodeResolver,
  AddonResolver,
  RateCardResolver,
  RevenueResolver,
  SeatsResolver,
  ServiceInfoResolver,
  SubscriptionResolver,
  UsageResolver,
  WebhookEventResolver,
  AccountPendingActionResolver,
  SubscriptionPendingActionResolver,
  PendingActionSecretResolver,
};

/** One built instance of every resolver of the API: the composition root makes them with their services. */
export interface Resolvers {
  serviceInfo: ServiceInfoResolver;
  plan: PlanResolver;
  rateCard: RateCardResolver;
  account: AccountResolver;
  accountBills: AccountBillsResolver;
  customer: CustomerResolver;
  customerTax: CustomerTaxResolver;
  invoiceCredit: InvoiceCreditResolver;
  subscription: SubscriptionResolver;
  promotionCode: PromotionCodeResolver;
  addon: AddonResolver;
  seats: SeatsResolver;
  checkout: CheckoutResolver;
  card: CardResolver;
  usage: UsageResolver;
  credit: CreditResolver;
  memberLimit: MemberLimitResolver;
  spendLimit: SpendLimitResolver;
  balanceSpend: BalanceSpendResolver;
  creditPurchase: CreditPurchaseResolver;
  autoTopUp: AutoTopUpResolver;
  lowBalanceAlert: LowBalanceAlertResolver;
  webhookEvent: WebhookEventResolver;
  revenue: RevenueResolver;
  accountPendingAction: AccountPendingActionResolver;
  subscriptionPendingAction: SubscriptionPendingActionResolver;
  pendingActionSecret: PendingActionSecretResolver;
}

/** Every resolver class of the API, listed once. */
const RESOLVER_CLASSES: NonEmptyArray<Function> = [
  ServiceInfoResolver,
  PlanResolver,
  RateCardResolver,
  AccountResolver,
  AccountBillsResolver,
  CustomerResolver,
  CustomerTaxResolver,
  SubscriptionResolver,
  PromotionCodeResolver,
  AddonResolver,
  SeatsResolver,
  CheckoutResolver,
  CardResolver,
  InvoiceCreditResolver,
  UsageResolver,
  CreditResolver,
  MemberLimitResolver,
  SpendLimitResolver,
  BalanceSpendResolver,
  CreditPurchaseResolver,
  AutoTopUpResolver,
  LowBalanceAlertResolver,
  WebhookEventResolver,
  RevenueResolver,
  AccountPendingActionResolver,
  SubscriptionPendingActionResolver,
  PendingActionSecretResolver,
];

/**
 * Builds the executable schema; subscriptions read from `pubSub`. type-graphql asks the container for a
 * resolver's instance when a field runs: it hands out the ones the composition root built, never makes one.
 */
export function buildBillingSchema(
  pubSub: BillingPubSub,
  resolvers: Resolvers | null,
): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVER_CLASSES,
    container: containerOf(resolvers),
    pubSub,
    validate: { forbidUnknownValues: false },
    // Dates cross the API as ISO 8601 strings.
    scalarsMap: [],
  });
}

function containerOf(resolvers: Resolvers | null): ContainerType {
  const byClass = new Map<Function, object>(
    Object.values(resolvers ?? {}).map((resolver: object) => [resolver.constructor, resolver]),
  );
  return {
    get: (resolverClass: Function) => {
      const resolver = byClass.get(resolverClass);
      if (!resolver) throw new Error(`No instance of ${resolverClass.name} was built for this schema`);
      return resolver;
    },
  };
}

/** The SDL committed as `schema.graphql`: what frontends code against, reviewed in every diff. */
export async function printBillingSchema(): Promise<string> {
  const pubSub = new InMemoryPubSub();
  const schema = await buildBillingSchema(pubSub, null);
  await pubSub.close();
  return `${printSchema(schema)}\n`;
}
