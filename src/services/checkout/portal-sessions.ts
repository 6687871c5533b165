import type { EntityManager } from '@mikro-orm/postgresql';
import { BadUserInputError } from '../../errors';
import type { AccountProfile, CustomerManager } from '../accounts/customer-manager';
import type { RedirectAllowList } from './redirect-allow-list';
import type { StripeClient } from '../stripe/stripe-client';

/** Stripe's Customer Portal for an account: update the card, see invoices, switch plans, cancel. */
export class PortalSessions {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly redirects: RedirectAllowList,
    private readonly configurationId: () => Promise<string | null>,
  ) {}

  async create(
    em: EntityManager,
    profile: AccountProfile,
    returnUrl?: string | null,
  ): Promise<{ url: string }> {
    const target = returnUrl
      ? this.redirects.check(returnUrl, 'returnUrl')
      : this.redirects.defaultReturnUrl();
    if (!target)
      throw new BadUserInputError('returnUrl is required (no allowed origin is configured)', 'returnUrl');
    const customer = await this.customers.ensure(em, profile);
    const configuration = await this.configurationId();
    const session = await this.stripe.call('billingPortal.sessions.create', (sdk) =>
      sdk.billingPortal.sessions.create({
        customer: customer.stripeCustomerId as string,
        return_url: target,
        ...(configuration ? { configuration } : {}),
      }),
    );
    return { url: session.url };
  }
}
