import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer } from '../entities';
import { ConflictError } from '../errors';

const CLAIM_MS = 30_000;

/**
 * Serialises subscription changes of one account across requests and instances without holding a database
 * transaction open across Stripe calls: a compare-and-set on the customer row that expires by itself if its
 * holder crashes. A second request while one is running gets CONFLICT instead of a second subscription.
 */
export async function withAccountLock<T>(
  em: EntityManager,
  accountId: string,
  work: () => Promise<T>,
): Promise<T> {
  const now = new Date();
  const claimed = await em
    .createQueryBuilder(BillingCustomer)
    .update({ changeLockedUntil: new Date(now.getTime() + CLAIM_MS) })
    .where({ accountId, $or: [{ changeLockedUntil: null }, { changeLockedUntil: { $lt: now } }] })
    .execute('run');
  if (claimed.affectedRows === 0) {
    throw new ConflictError('Another change to this subscription is in progress; try again in a moment');
  }
  try {
    return await work();
  } finally {
    await em
      .createQueryBuilder(BillingCustomer)
      .update({ changeLockedUntil: null })
      .where({ accountId })
      .execute('run');
  }
}
