import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { Subscription, TrialFingerprint } from '../entities';
import { BillingError, ErrorCode } from '../errors';

/**
 * One trial per account, and one per card: a trial is free use of a paid plan, so a second one (cancel, start
 * again; or a new account with the same card) is refused with TRIAL_NOT_AVAILABLE, naming why
 * (`extensions.reason`: ACCOUNT or CARD). The account's trials are known from Stripe (every subscription of its
 * customer, canceled ones included) and from our rows; a card by the fingerprint Stripe gives every card, which
 * is the same on every account.
 */
export class TrialPolicy {
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

  /** Records the card of a trial that started (the first account to use it keeps it). */
  async remember(em: EntityManager, accountId: string, cardFingerprint: string | null): Promise<void> {
    if (!cardFingerprint) return;
    await em
      .createQueryBuilder(TrialFingerprint)
      .insert({ fingerprint: cardFingerprint, accountId, createdAt: new Date() })
      .onConflict('fingerprint')
      .ignore()
      .execute();
  }
}

/** The fingerprint of a card payment method, or null (another kind of payment method, or none given). */
export function fingerprintOf(paymentMethod: Stripe.PaymentMethod | null): string | null {
  return paymentMethod?.card?.fingerprint ?? null;
}
