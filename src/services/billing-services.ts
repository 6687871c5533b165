import type { Config } from '../config';
import type { BillingPubSub } from '../pubsub/pubsub';
import { CustomerManager } from './customer-manager';
import type { Logger } from './logger';
import { StripeClient } from './stripe/stripe-client';

/** The services of one running instance, built once at start-up and shared by every request. */
export interface BillingServices {
  stripe: StripeClient | null;
  customers: CustomerManager | null;
  pubSub: BillingPubSub;
}

export function createBillingServices(config: Config, pubSub: BillingPubSub, logger: Logger): BillingServices {
  const stripe = config.stripe.secretKey ? new StripeClient({ ...config.stripe, secretKey: config.stripe.secretKey }, logger) : null;
  return {
    stripe,
    customers: stripe ? new CustomerManager(stripe, logger) : null,
    pubSub,
  };
}
