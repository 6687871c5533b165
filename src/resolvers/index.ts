import type { NonEmptyArray } from 'type-graphql';
import { AccountResolver } from './account.resolver';
import { CheckoutResolver } from './checkout.resolver';
import { CustomerResolver } from './customer.resolver';
import { PlanResolver } from './plan.resolver';
import { RevenueResolver } from './revenue.resolver';
import { ServiceInfoResolver } from './service-info.resolver';
import { SubscriptionResolver } from './subscription.resolver';
import { UsageResolver } from './usage.resolver';
import { WebhookEventResolver } from './webhook-event.resolver';

/** Every resolver of the API, listed once. */
export const RESOLVERS: NonEmptyArray<Function> = [
  ServiceInfoResolver,
  PlanResolver,
  AccountResolver,
  CustomerResolver,
  SubscriptionResolver,
  CheckoutResolver,
  UsageResolver,
  WebhookEventResolver,
  RevenueResolver,
];
