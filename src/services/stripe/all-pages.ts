import type Stripe from 'stripe';

/** The SDK's own ceiling for `autoPagingToArray`: far more than one customer of ours ever has of anything. */
const MAX_LISTED = 10_000;

/**
 * Every page of a Stripe list, newest first. A list answers 100 items at most a page
 * (https://docs.stripe.com/api/pagination); a rule read off the first page alone misses what a customer pushed
 * behind newer items (a hundred abandoned subscriptions before the live one, open invoices before a waiting
 * top-up), and a hostile customer can push on purpose.
 */
export function allPages<T>(list: Stripe.ApiListPromise<T>): Promise<T[]> {
  return list.autoPagingToArray({ limit: MAX_LISTED });
}

/** True at the first item of a Stripe list (read page by page, newest first, only as far as needed) `test` holds for. */
export async function someListed<T>(
  list: Stripe.ApiListPromise<T>,
  test: (item: T) => boolean,
): Promise<boolean> {
  for await (const item of list) if (test(item)) return true;
  return false;
}
