import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, PaymentMethod } from '../entities';

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
        stripeUpdatedAt: { $lte: observedAt },
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
      .where({ stripeUpdatedAt: { $lte: observedAt } })
      .execute('run');
    // An older read that lost to a newer one must not decide which card is the default either.
    if (written.affectedRows > 0) await this.applyDefault(em, customer, defaultId);
  }

  /** Marks `defaultId` as the account's only default card. */
  async applyDefault(em: EntityManager, customer: BillingCustomer, defaultId: string | null): Promise<void> {
    await em.nativeUpdate(
      PaymentMethod,
      { accountId: customer.accountId, stripePaymentMethodId: { $ne: defaultId ?? '' } },
      { isDefault: false },
    );
    if (defaultId)
      await em.nativeUpdate(PaymentMethod, { stripePaymentMethodId: defaultId }, { isDefault: true });
  }
}
