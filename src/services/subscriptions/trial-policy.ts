import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import { Subscription, TrialFingerprint } from '../../entities';
import { BillingError, ErrorCode } from '../../errors';
import type { StripeClient } from '../stripe/stripe-client';
import { idOf } from '../stripe/expandable';

/**
 * One trial per account, and one per card: a trial is free use of a paid plan, so a second one (cancel, start
 * again; or a new account with the same card) is refused with TRIAL_NOT_AVAILABLE, naming why
 * (`extensions.reason`: ACCOUNT or CARD). The account's trials are known from Stripe (every subscription of its
 * customer, canceled ones included) and from our rows; a card by the fingerprint Stripe gives every card, which
 * is the same on every account.
 */
export class TrialPolicy {
  constructor(
    private readonly stripe: StripeClient,
    private readonly orm: Orm,
  ) {}

  /** Refuses a trial the account, or the card (by fingerprint, when there is one), already had. */
  async requireAvailable(
    em: EntityManager,
    accountId: string,
    stripeSubscriptions: readonly Stripe.Subscription[],
    cardFingerprint: string | null,
  ): Promise<void> {
    const hadOne =
      stripeSubscriptions.some((subscription) => subscription.trial_start !== null) ||
      (await em.count(Subscription, { accountId, trialStart: { $ne: null } })) > 0;
    if (hadOne)
      throw new BillingError(
        ErrorCode.TRIAL_NOT_AVAILABLE,
        'This account has had its trial: subscribe without one (withTrial: false)',
        { reason: 'ACCOUNT' },
      );
    if (!cardFingerprint) return;
    const card = await em.findOne(TrialFingerprint, { fingerprint: cardFingerprint });
    if (card && card.accountId !== accountId)
      throw new BillingError(
        ErrorCode.TRIAL_NOT_AVAILABLE,
        'This card has already been used for a trial: subscribe without one, or with another card',
        { reason: 'CARD' },
      );
  }

  /**
   * Claims the card for the account's trial before the trial is made in Stripe, so that of accounts asking at the
   * same moment with one card only the first gets a trial (the others: TRIAL_NOT_AVAILABLE, CARD; the account lock
   * is per account, and the check above reads before any of them wrote). Returns how to give the claim back when
   * the trial is then not made.
   */
  async claim(
    em: EntityManager,
    accountId: string,
    cardFingerprint: string | null,
  ): Promise<() => Promise<void>> {
    const unclaimed = async () => {};
    if (!cardFingerprint) return unclaimed;
    const inserted = await em
      .createQueryBuilder(TrialFingerprint)
      .insert({ fingerprint: cardFingerprint, accountId, createdAt: new Date() })
      .onConflict('fingerprint')
      .ignore()
      .execute('run');
    if (inserted.affectedRows > 0)
      return async () => {
        await em.nativeDelete(TrialFingerprint, { fingerprint: cardFingerprint, accountId });
      };
    const owner = await em.findOne(TrialFingerprint, { fingerprint: cardFingerprint }, { refresh: true });
    if (owner && owner.accountId !== accountId)
      throw new BillingError(
        ErrorCode.TRIAL_NOT_AVAILABLE,
        'This card has already been used for a trial: subscribe without one, or with another card',
        { reason: 'CARD' },
      );
    return unclaimed;
  }

  /** Records the card of a trial that started (the first account to use it keeps it); returns its owner. */
  async remember(
    em: EntityManager,
    accountId: string,
    cardFingerprint: string | null,
  ): Promise<string | null> {
    if (!cardFingerprint) return null;
    await em
      .createQueryBuilder(TrialFingerprint)
      .insert({ fingerprint: cardFingerprint, accountId, createdAt: new Date() })
      .onConflict('fingerprint')
      .ignore()
      .execute();
    const owner = await em.findOne(TrialFingerprint, { fingerprint: cardFingerprint }, { refresh: true });
    return owner?.accountId ?? null;
  }

  /**
   * A trial started through Checkout: the card is known only once the customer has paid (Checkout collects it),
   * so the one-trial-per-card rule is applied here, from the subscription's webhook. A card that already had a
   * trial on another account ends this trial at once (Stripe charges the plan now, as the customer agreed to
   * after the trial). Returns the subscription as it is after that. Safe to repeat: the key names the
   * subscription, and a trial already ended is left alone.
   */
  async settleTrialCard(subscription: Stripe.Subscription): Promise<Stripe.Subscription> {
    const accountId = subscription.metadata?.account_id;
    const card = idOf(subscription.default_payment_method);
    if (subscription.status !== 'trialing' || !accountId || !card) return subscription;
    const paymentMethod = await this.stripe.call('paymentMethods.retrieve', (sdk) =>
      sdk.paymentMethods.retrieve(card),
    );
    const owner = await this.remember(this.orm.em.fork(), accountId, fingerprintOf(paymentMethod));
    if (owner === null || owner === accountId) return subscription;
    return this.stripe.call(
      'subscriptions.update',
      (sdk, options) => sdk.subscriptions.update(subscription.id, { trial_end: 'now' }, options),
      { name: `subscription.end-trial-of-used-card:${subscription.id}` },
    );
  }
}

/** The fingerprint of a card payment method, or null (another kind of payment method, or none given). */
export function fingerprintOf(paymentMethod: Stripe.PaymentMethod | null): string | null {
  return paymentMethod?.card?.fingerprint ?? null;
}
