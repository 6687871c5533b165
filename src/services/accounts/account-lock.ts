import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer } from '../../entities';
import { ConflictError } from '../../errors';

/**
 * Longer than the worst case of the work it guards (a few Stripe calls, each up to its timeout times its
 * retries), so it never expires under a live holder; it only frees an account whose holder crashed.
 */
const CLAIM_MS = 5 * 60_000;

/**
 * Serialises subscription changes of one account across requests and instances without holding a database
 * transaction open across Stripe calls: a compare-and-set on the customer row. A second request while one is
 * running gets CONFLICT instead of a second subscription. The claim carries its own expiry as an owner token:
 * only its holder can release it, so a late holder can never free someone else's claim.
 */
export async function withAccountLock<T>(
  em: EntityManager,
  accountId: string,
  work: () => Promise<T>,
): Promise<T> {
  const now = Date.now();
  // The token is the expiry itself: a later claim can only be taken after this one expired, so it differs.
  const token = new Date(now + CLAIM_MS);
  const claimed = await em
    .createQueryBuilder(BillingCustomer)
    .update({ changeLockedUntil: token })
    .where({ accountId, $or: [{ changeLockedUntil: null }, { changeLockedUntil: { $lt: new Date(now) } }] })
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
      .where({ accountId, changeLockedUntil: token })
      .execute('run');
  }
}
