import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { readNoLaterThan } from '../../database/newest-read';
import { BillingCustomer, PaymentMethod } from '../../entities';

/** Keeps our list of an account's cards equal to Stripe's: attached cards stored, detached ones removed. */
export class PaymentMethodSync {
  /**
   * Applies one payment method as Stripe has it now. `defaultId` is the customer's default payment method, so
   * exactly one card is marked default.
   */
  async apply(
    em: EntityManager,
    customer: BillingCustomer,
    paymentMethod: Stripe.PaymentMethod,
    defaultId: string | null,
    observedAt: Date,
  ): Promise<void> {
    const attachedTo =
      typeof paymentMethod.customer === 'string' ? paymentMethod.customer : paymentMethod.customer?.id;
    if (attachedTo !== customer.stripeCustomerId) {
      await em.nativeDelete(PaymentMethod, {
        stripePaymentMethodId: paymentMethod.id,
        ...readNoLaterThan(observedAt),
      });
      return;
    }
    const card = paymentMethod.card;
    const row = {
      stripePaymentMethodId: paymentMethod.id,
      customer: customer.id,
      accountId: customer.accountId,
      brand: card?.brand ?? paymentMethod.type,
      last4: card?.last4 ?? null,
      expMonth: card?.exp_month ?? null,
      expYear: card?.exp_year ?? null,
      isDefault: paymentMethod.id === defaultId,
      stripeUpdatedAt: observedAt,
    };
    const changing = Object.keys(row).filter((key) => key !== 'stripePaymentMethodId') as Array<
      keyof PaymentMethod
    >;
    const written = await em
      .createQueryBuilder(PaymentMethod)
      .insert({ ...row, id: crypto.randomUUID(), createdAt: observedAt, updatedAt: new Date() })
      .onConflict('stripePaymentMethodId')
      .merge([...changing, 'updatedAt'])
      .where(readNoLaterThan(observedAt))
      .execute('run');
    // An older read that lost to a newer one must not decide which card is the default either.
    if (written.affectedRows > 0) await this.applyDefault(em, customer, defaultId, observedAt);
  }

  /**
   * A card detached from its customer: removed from whichever account had it (unless a newer read holds it).
   * Answers that account, or null if we did not have the card.
   */
  async applyDetached(
    em: EntityManager,
    paymentMethod: Stripe.PaymentMethod,
    observedAt: Date,
  ): Promise<string | null> {
    const row = await em.findOne(PaymentMethod, { stripePaymentMethodId: paymentMethod.id });
    if (!row) return null;
    const owner = await em.findOneOrFail(BillingCustomer, { id: row.customer.id });
    await this.apply(em, owner, paymentMethod, null, observedAt);
    return owner.accountId;
  }

  /**
   * Marks `defaultId`, as read at `observedAt`, as the account's only default card. Which card is the default is
   * state read from Stripe like any other: a card whose flag changes is stamped with this read, and a card read
   * later than it keeps its flag (an older read, a resync's say, never puts an older default back).
   */
  private async applyDefault(
    em: EntityManager,
    customer: BillingCustomer,
    defaultId: string | null,
    observedAt: Date,
  ): Promise<void> {
    await em.nativeUpdate(
      PaymentMethod,
      {
        accountId: customer.accountId,
        stripePaymentMethodId: { $ne: defaultId ?? '' },
        isDefault: true,
        ...readNoLaterThan(observedAt),
      },
      { isDefault: false, stripeUpdatedAt: observedAt },
    );
    if (defaultId)
      await em.nativeUpdate(
        PaymentMethod,
        { stripePaymentMethodId: defaultId, isDefault: false, ...readNoLaterThan(observedAt) },
        { isDefault: true, stripeUpdatedAt: observedAt },
      );
  }
}
