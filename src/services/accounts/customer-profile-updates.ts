import type { EntityManager } from '@mikro-orm/postgresql';
import type { BillingCustomer } from '../../entities';
import type { AccountEvents } from './account-events';
import type { AccountProfile, CustomerChanges, CustomerManager } from './customer-manager';

/** A user's own changes to its Stripe customer (email, name, address), announced to its live subscribers. */
export class CustomerProfileUpdates {
  constructor(
    private readonly customers: CustomerManager,
    private readonly events: AccountEvents,
  ) {}

  /** Creates the customer on first use, applies the changes in Stripe and here, then tells the account. */
  async update(
    em: EntityManager,
    profile: AccountProfile,
    changes: CustomerChanges,
  ): Promise<BillingCustomer> {
    await this.customers.ensure(em, profile);
    const updated = await this.customers.update(em, profile.accountId, changes);
    await this.events.accountUpdated(profile.accountId, 'customer.updated');
    return updated;
  }
}
