import type Stripe from 'stripe';

/** 10,000 items at 100 a page: more of anything than one customer of ours ever has. */
const MAX_PAGES = 100;

/** One page of a Stripe list after `startingAfter` (the first page when undefined), through `StripeClient.call`. */
export type ListPage<T> = (startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>;

/**
 * Pages through a Stripe list (newest first) with `starting_after`, one rate-limited call per page, up to a
 * bound that no real customer reaches. `complete` is false if the bound cut the list short. A list answers 100
 * items at most a page (https://docs.stripe.com/api/pagination): a rule read off the first page alone misses
 * what a customer pushed behind newer items (a live subscription behind a hundred abandoned ones, a waiting
 * top-up behind open invoices), and a hostile customer can push on purpose.
 */
export async function listAll<T extends { id?: string }>(
  page: ListPage<T>,
  maxPages = MAX_PAGES,
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let startingAfter: string | undefined;
  for (let pages = 0; pages < maxPages; pages++) {
    const result = await page(startingAfter);
    items.push(...result.data);
    const last = result.data.at(-1)?.id;
    if (!result.has_more || !last) return { items, complete: true };
    startingAfter = last;
  }
  return { items, complete: false };
}

/** True at the first item of a Stripe list (read page by page, newest first, only as far as needed) `test` holds for. */
export async function someListed<T extends { id?: string }>(
  page: ListPage<T>,
  test: (item: T) => boolean,
  maxPages = MAX_PAGES,
): Promise<boolean> {
  let startingAfter: string | undefined;
  for (let pages = 0; pages < maxPages; pages++) {
    const result = await page(startingAfter);
    if (result.data.some(test)) return true;
    const last = result.data.at(-1)?.id;
    if (!result.has_more || !last) return false;
    startingAfter = last;
  }
  return false;
}
