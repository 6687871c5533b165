import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer } from '../../entities';
import { RetryLaterError } from '../handler.types';

/**
 * Our customer row for a Stripe customer. An event can arrive before we linked the customer to an account
 * (before `checkout.session.completed`): if the object names its account (our metadata), the link is made
 * here; otherwise the event is retried later rather than dropped.
 */
export async function customerRowFor(
  em: EntityManager,
  stripeCustomerId: string | null,
  accountIdHint: string | null | undefined,
): Promise<BillingCustomer> {
  if (!stripeCustomerId) throw new RetryLaterError('the object has no customer');
  const known = await em.findOne(BillingCustomer, { stripeCustomerId });
  if (known) return known;
  if (!accountIdHint) {
    throw new RetryLaterError(`customer ${stripeCustomerId} is not linked to an account yet`);
  }
  return linkCustomer(em, accountIdHint, stripeCustomerId);
}

/** Records that `stripeCustomerId` is the Stripe customer of `accountId` (idempotent). */
export async function linkCustomer(
  em: EntityManager,
  accountId: string,
  stripeCustomerId: string,
): Promise<BillingCustomer> {
  const existing = await em.findOne(BillingCustomer, { accountId });
  if (existing) {
    if (!existing.stripeCustomerId || existing.deletedAt) {
      existing.stripeCustomerId = stripeCustomerId;
      existing.deletedAt = null;
      await em.flush();
    }
    return existing;
  }
  // Insert-or-ignore: the service may be creating the same row for this account at this very moment.
  await em
    .createQueryBuilder(BillingCustomer)
    .insert({
      id: crypto.randomUUID(),
      accountId,
      stripeCustomerId,
      createdAt: new Date(),
      updatedAt: new Date(),
    })
    .onConflict('accountId')
    .ignore()
    .execute();
  const row = await em.findOneOrFail(BillingCustomer, { accountId }, { refresh: true });
  if (!row.stripeCustomerId) {
    row.stripeCustomerId = stripeCustomerId;
    await em.flush();
  }
  return row;
}
