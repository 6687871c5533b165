import { Query, Resolver } from 'type-graphql';
import { ServiceInfo } from '../schema/service-info.type';
import { STRIPE_API_VERSION } from '../services/stripe/stripe-api-version';
import { SERVICE_NAME, SERVICE_VERSION } from '../version';

@Resolver(() => ServiceInfo)
export class ServiceInfoResolver {
  @Query(() => ServiceInfo, { description: 'Public: the service name, version and Stripe API version' })
  serviceInfo(): ServiceInfo {
    return { name: SERVICE_NAME, version: SERVICE_VERSION, stripeApiVersion: STRIPE_API_VERSION };
  }
}
