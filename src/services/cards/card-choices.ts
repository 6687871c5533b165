import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, PaymentMethod } from '../../entities';
import { BillingError, ErrorCode, NotFoundError } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { CustomerManager } from '../accounts/customer-manager';
import { chargedCardOf } from '../invoices/charged-card';
import type { PaymentMethodSync } from '../invoices/payment-method-sync';
import { idOf } from '../stripe/expandable';
import type { StripeClient } from '../stripe/stripe-client';
import type { SubscriptionStore } from '../subscriptions/subscription-store';
import type { Clock } from '../time/clock';

/** What a card choice left: the account's cards as Stripe has them now, stored before this answers. */
export interface CardsAfterChange {
  accountId: string;
}

/**
 * The account's choices about its cards (docs/billing-rules.md, "cards"): which one is charged, and removing
 * one. Stripe is asked first and is the truth: a card is the account's only when Stripe says it is attached to
 * the account's customer (any other id, another customer's included, is NOT_FOUND). What Stripe answers is
 * written at once, so the page's next read shows it before the webhook comes.
 */
export class CardChoices {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly subscriptions: SubscriptionStore,
    private readonly sync: PaymentMethodSync,
    private readonly events: AccountEvents,
    private readonly clock: Clock,
  ) {}

  /**
   * Makes the card the one charged: the customer's `invoice_settings.default_payment_method`, and the live
   * subscription's `default_payment_method` when it has one (Stripe charges the subscription's before the
   * customer's: API reference, Subscription.default_payment_method).
   */
  async setDefault(em: EntityManager, accountId: string, paymentMethodId: string): Promise<void> {
    const customer = await this.ownCustomer(em, accountId);
    const card = await this.ownCard(customer, paymentMethodId);
    const stripeCustomerId = customer.stripeCustomerId as string;
    const live = await this.liveStripeSubscription(em, accountId);
    const version = await this.versionOf(em, customer, card, live);
    if (idOf(live?.default_payment_method) && idOf(live?.default_payment_method) !== card.id) {
      const params = { default_payment_method: card.id };
      await this.stripe.call(
        'subscriptions.update',
        (sdk, options) => sdk.subscriptions.update(live?.id as string, params, options),
        { name: `subscription.default-card:${live?.id}:${version}`, params },
      );
    }
    const params = { invoice_settings: { default_payment_method: card.id } };
    const updated = await this.stripe.call(
      'customers.update',
      (sdk, options) => sdk.customers.update(stripeCustomerId, params, options),
      { name: `customer.default-card:${accountId}:${version}`, params },
    );
    await this.sync.apply(em, customer, card, chargedCardOf(updated, null), this.clock.now());
    await this.events.accountUpdated(accountId, 'payment_method.default');
  }

  /**
   * Detaches the card. The last card of a live subscription that renews is refused (LAST_PAYMENT_METHOD): its
   * next invoice would have nothing to charge. Removing the default card makes the newest other card the default
   * first, so the subscription keeps a card to charge.
   */
  async remove(em: EntityManager, accountId: string, paymentMethodId: string): Promise<void> {
    const customer = await this.ownCustomer(em, accountId);
    const card = await this.ownCard(customer, paymentMethodId);
    await withAccountLock(em, accountId, async () => {
      const cards = await this.stripe.call('paymentMethods.list', (sdk) =>
        sdk.customers.listPaymentMethods(customer.stripeCustomerId as string, { type: 'card', limit: 100 }),
      );
      const others = cards.data.filter((candidate) => candidate.id !== card.id);
      const subscription = await this.subscriptions.live(em, accountId);
      if (others.length === 0 && subscription && !subscription.cancelAtPeriodEnd) {
        throw new BillingError(
          ErrorCode.LAST_PAYMENT_METHOD,
          'This is the only card of a subscription that renews: add another card first, or cancel the subscription',
        );
      }
      const stripeCustomer = await this.retrieveCustomer(customer);
      const live = await this.liveStripeSubscription(em, accountId);
      const [newest] = others;
      if (chargedCardOf(stripeCustomer, live) === card.id && newest)
        await this.setDefault(em, accountId, newest.id);
      const detached = await this.stripe.call(
        'paymentMethods.detach',
        (sdk, options) => sdk.paymentMethods.detach(card.id, {}, options),
        // A detached card can never be attached again (API reference, Detach a PaymentMethod): one key per card.
        { name: `payment-method.detach:${card.id}` },
      );
      await this.sync.apply(em, customer, detached, null, this.clock.now());
    });
    await this.events.accountUpdated(accountId, 'payment_method.removed');
  }

  private async ownCustomer(em: EntityManager, accountId: string): Promise<BillingCustomer> {
    const customer = await this.customers.find(em, accountId);
    if (!customer?.stripeCustomerId || customer.deletedAt) throw new NotFoundError('This payment method');
    return customer;
  }

  /** The card, as Stripe has it, when it is attached to this customer; NOT_FOUND for any other id. */
  private async ownCard(customer: BillingCustomer, paymentMethodId: string): Promise<Stripe.PaymentMethod> {
    if (!/^pm_\w+$/.test(paymentMethodId)) throw new NotFoundError('This payment method');
    let card: Stripe.PaymentMethod;
    try {
      card = await this.stripe.call('paymentMethods.retrieve', (sdk) =>
        sdk.paymentMethods.retrieve(paymentMethodId),
      );
    } catch (error) {
      if (error instanceof BillingError && error.extensions.stripeCode === 'resource_missing')
        throw new NotFoundError('This payment method');
      throw error;
    }
    if (idOf(card.customer) !== customer.stripeCustomerId) throw new NotFoundError('This payment method');
    return card;
  }

  private async retrieveCustomer(customer: BillingCustomer): Promise<Stripe.Customer> {
    const answer = await this.stripe.call('customers.retrieve', (sdk) =>
      sdk.customers.retrieve(customer.stripeCustomerId as string),
    );
    if (answer.deleted) throw new NotFoundError('This payment method');
    return answer;
  }

  private async liveStripeSubscription(
    em: EntityManager,
    accountId: string,
  ): Promise<Stripe.Subscription | null> {
    const row = await this.subscriptions.live(em, accountId);
    return row ? this.subscriptions.retrieve(row.stripeSubscriptionId) : null;
  }

  /**
   * The version of what a default-card change starts from (ADR 0008): the target card's row as last read. Each
   * change of the default stamps the cards whose flag moved, so A → B → A → B gets four keys, while a retry of one
   * change (nothing moved in between) gets the same key. A card we have no row for yet is stored first.
   */
  private async versionOf(
    em: EntityManager,
    customer: BillingCustomer,
    card: Stripe.PaymentMethod,
    live: Stripe.Subscription | null,
  ): Promise<string> {
    let row = await em.findOne(PaymentMethod, { stripePaymentMethodId: card.id });
    if (!row) {
      const current = chargedCardOf(await this.retrieveCustomer(customer), live);
      await this.sync.apply(em, customer, card, current, this.clock.now());
      row = await em.findOneOrFail(PaymentMethod, { stripePaymentMethodId: card.id }, { refresh: true });
    }
    return `${card.id}:${row.stripeUpdatedAt.getTime()}`;
  }
}
