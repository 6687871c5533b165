import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { BillingCustomer } from '../../entities';
import type { PostalAddress } from '../../entities/billing-customer.entity';
import { NotFoundError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { StripeClient } from '../stripe/stripe-client';
import { applyIfNewer } from '../../database/newest-read';
import { type Clock, wallClock } from '../time/clock';
import { TaxPolicy } from '../tax/tax-policy';

/** What the CODITECT app knows about an account's user: the source of the customer's email and name. */
export interface AccountProfile {
  accountId: string;
  email: string | null;
  name?: string | null;
}

export interface CustomerChanges {
  email?: string | null;
  name?: string | null;
  address?: PostalAddress | null;
}

/** The metadata key that ties a Stripe customer to its CODITECT account (and lets us find it again). */
export const ACCOUNT_ID_METADATA = 'account_id';

/**
 * The Stripe customer of each account, created exactly once: a unique row per account in PostgreSQL, an
 * idempotency key per account on the create call, and a search by `metadata.account_id` that adopts a customer
 * created by an earlier attempt that crashed before recording it.
 */
export class CustomerManager {
  constructor(
    private readonly stripe: StripeClient,
    private readonly logger: Logger,
    /**
     * A Stripe test clock new customers are put on (`BILLING_CLOCK=test_clock`), so advancing it moves their
     * subscriptions as it moves the service's clock; null otherwise.
     */
    private readonly testClockId: string | null = null,
    /** Billing's clock (ADR 0013): an update's answer is stamped on the same time line as webhook reads. */
    private readonly clock: Clock = wallClock,
    /** With Stripe Tax on, a new address must be one Stripe Tax can place (TAX_LOCATION_REQUIRED otherwise). */
    private readonly tax: TaxPolicy = new TaxPolicy(false),
  ) {}

  /** The account's customer row, or null; never calls Stripe. */
  find(em: EntityManager, accountId: string): Promise<BillingCustomer | null> {
    return em.findOne(BillingCustomer, { accountId });
  }

  /** The customer row of an account that must already have one. */
  async require(em: EntityManager, accountId: string): Promise<BillingCustomer> {
    const customer = await this.find(em, accountId);
    if (!customer?.stripeCustomerId || customer.deletedAt)
      throw new NotFoundError('The billing customer of this account');
    return customer;
  }

  /**
   * Gets or creates the account's Stripe customer. Safe under any number of concurrent calls, on any number of
   * instances: they all end with the same single Stripe customer. No transaction is held open across Stripe.
   */
  async ensure(em: EntityManager, profile: AccountProfile): Promise<BillingCustomer> {
    const existing = await this.find(em, profile.accountId);
    if (existing?.stripeCustomerId && !existing.deletedAt) return existing;

    // Claim the account's row first: the unique account id makes every racer share one row.
    await em
      .createQueryBuilder(BillingCustomer)
      .insert({
        id: crypto.randomUUID(),
        accountId: profile.accountId,
        email: profile.email,
        name: profile.name ?? null,
        createdAt: new Date(),
        updatedAt: new Date(),
      })
      .onConflict('accountId')
      .ignore()
      .execute();

    // After a deletion the account starts a new generation, so the create call gets a fresh idempotency key
    // instead of replaying the deleted customer.
    const generation = existing?.deletedAt?.getTime() ?? 0;
    const stripeCustomer =
      (await this.findInStripe(profile.accountId)) ?? (await this.createInStripe(profile, generation));
    await em
      .createQueryBuilder(BillingCustomer)
      .update({
        stripeCustomerId: stripeCustomer.id,
        email: stripeCustomer.email ?? profile.email,
        name: stripeCustomer.name ?? profile.name ?? null,
        deletedAt: null,
        stripeUpdatedAt: new Date(stripeCustomer.created * 1000),
        updatedAt: new Date(),
      })
      .where({
        accountId: profile.accountId,
        $or: [{ stripeCustomerId: null }, { deletedAt: { $ne: null } }],
      })
      .execute();

    const customer = await em.findOneOrFail(
      BillingCustomer,
      { accountId: profile.accountId },
      { refresh: true },
    );
    if (customer.stripeCustomerId !== stripeCustomer.id) {
      // Another racer recorded a different customer first (only possible if Stripe's search lagged): ours is
      // a duplicate with no subscription, so remove it rather than leave two customers for one account.
      this.logger.warn(
        { accountId: profile.accountId, duplicate: stripeCustomer.id },
        'removing duplicate Stripe customer',
      );
      await this.stripe.call('customers.del', (sdk, options) =>
        sdk.customers.del(stripeCustomer.id, {}, options),
      );
    }
    return customer;
  }

  /** Changes email, name or address, in Stripe first and then here (Stripe is the source of truth). */
  async update(em: EntityManager, accountId: string, changes: CustomerChanges): Promise<BillingCustomer> {
    const customer = await this.require(em, accountId);
    const params: Stripe.CustomerUpdateParams = {};
    if (changes.email !== undefined) params.email = changes.email ?? '';
    if (changes.name !== undefined) params.name = changes.name ?? '';
    if (changes.address !== undefined) {
      params.address = changes.address ? toStripeAddress(changes.address) : '';
      Object.assign(params, this.tax.customerUpdate());
    }
    const updated = await this.stripe.call(
      'customers.update',
      (sdk, options) => sdk.customers.update(customer.stripeCustomerId as string, params, options),
      // Versioned by our row: email A, then B, then A again are three updates, not a replay of the first.
      { name: `customer.update:${accountId}:${customer.updatedAt.getTime()}`, params },
    );
    // Stamped when the answer came back, as `SubscriptionStore.storeWritten` stamps a subscription's: the answer
    // holds the change itself, so a webhook's refetch that started while the update was in flight (a new
    // customer's `customer.created`) read the details before it and must lose to it. Stamped at the start of the
    // call, the update lost to such a read, which put the old address back until `customer.updated` came.
    // Billing's clock, as webhook reads use: with Stripe's test time ahead of the wall, a wall-clock stamp lost
    // to every webhook's and the mutation answered the old details.
    const observedAt = this.clock.now();
    // Newest read wins (ADR 0005), under the row lock a webhook handler takes too: a webhook that read Stripe
    // before this update and commits after it must not put the old details back, nor this answer over a
    // newer webhook's.
    return em.transactional(async (tx) => {
      const row = await tx.findOneOrFail(
        BillingCustomer,
        { id: customer.id },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      );
      applyIfNewer(row, observedAt, (fresh) => this.applyStripeCustomer(fresh, updated));
      return row;
    });
  }

  /** Keeps the customer's email and name in step with the app's user record. */
  async syncFromProfile(em: EntityManager, profile: AccountProfile): Promise<BillingCustomer> {
    const customer = await this.ensure(em, profile);
    const changes: CustomerChanges = {};
    if (profile.email && profile.email !== customer.email) changes.email = profile.email;
    if (profile.name && profile.name !== customer.name) changes.name = profile.name;
    return Object.keys(changes).length > 0 ? this.update(em, profile.accountId, changes) : customer;
  }

  /** Deletes the Stripe customer (Stripe cancels its subscriptions) and marks the row deleted. */
  async delete(em: EntityManager, accountId: string): Promise<void> {
    const customer = await this.require(em, accountId);
    await this.stripe.call('customers.del', (sdk, options) =>
      sdk.customers.del(customer.stripeCustomerId as string, {}, options),
    );
    customer.deletedAt = this.clock.now();
    await em.flush();
  }

  /** Copies Stripe's view of a customer onto our row (also used by the webhook handlers). */
  applyStripeCustomer(row: BillingCustomer, customer: Stripe.Customer): void {
    row.email = customer.email ?? null;
    row.name = customer.name ?? null;
    row.address = customer.address ? fromStripeAddress(customer.address) : null;
    // Stripe fixes a customer's currency with its first subscription (one made in the Dashboard too): the account
    // then pays in it. A currency already kept is never replaced (the service chose it; Stripe follows).
    if (!row.currency && customer.currency) row.currency = customer.currency;
  }

  private async findInStripe(accountId: string): Promise<Stripe.Customer | null> {
    const result = await this.stripe.call('customers.search', (sdk) =>
      sdk.customers.search({
        query: `metadata['${ACCOUNT_ID_METADATA}']:'${escapeSearchValue(accountId)}'`,
        limit: 1,
      }),
    );
    return result.data[0] ?? null;
  }

  private createInStripe(profile: AccountProfile, generation: number): Promise<Stripe.Customer> {
    const params: Stripe.CustomerCreateParams = {
      email: profile.email ?? undefined,
      name: profile.name ?? undefined,
      metadata: { [ACCOUNT_ID_METADATA]: profile.accountId },
      ...(this.testClockId ? { test_clock: this.testClockId } : {}),
    };
    return this.stripe.call('customers.create', (sdk, options) => sdk.customers.create(params, options), {
      name: `customer.create:${profile.accountId}:${generation}`,
      params,
    });
  }
}

function escapeSearchValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

function toStripeAddress(address: PostalAddress): Stripe.AddressParam {
  return {
    line1: address.line1 ?? undefined,
    line2: address.line2 ?? undefined,
    city: address.city ?? undefined,
    state: address.state ?? undefined,
    postal_code: address.postalCode ?? undefined,
    country: address.country ?? undefined,
  };
}

function fromStripeAddress(address: Stripe.Address): PostalAddress {
  return {
    line1: address.line1,
    line2: address.line2,
    city: address.city,
    state: address.state,
    postalCode: address.postal_code,
    country: address.country,
  };
}
