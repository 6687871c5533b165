import { invalidRequest } from './errors';
import { ParamReader } from './params';

export interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

/** Reads and validates `limit` (1–100, default 10) as Stripe does. */
export function readLimit(input: ParamReader): number {
  const limit = input.int('limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidRequest(`Invalid limit: must be between 1 and 100`, 'limit');
  }
  return limit;
}

/**
 * Stripe's cursor pagination over `items` (already filtered and sorted newest first):
 * `starting_after` returns the next-older page, `ending_before` the next-newer one
 * (the `limit` items just before the cursor, still newest first).
 */
export function paginate<T extends { id: string }>(
  items: T[],
  input: ParamReader,
  url: string,
): ListObject<T> {
  const limit = readLimit(input);
  const after = input.str('starting_after');
  const before = input.str('ending_before');
  if (after && before) {
    throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.');
  }
  const indexOf = (id: string, param: string): number => {
    const i = items.findIndex((x) => x.id === id);
    if (i < 0) throw invalidRequest(`No such object: '${id}'`, param, 'resource_missing');
    return i;
  };
  if (before) {
    const end = indexOf(before, 'ending_before');
    const start = Math.max(0, end - limit);
    return { object: 'list', data: items.slice(start, end), has_more: start > 0, url };
  }
  const start = after ? indexOf(after, 'starting_after') + 1 : 0;
  const data = items.slice(start, start + limit);
  return { object: 'list', data, has_more: start + limit < items.length, url };
}

/** A list object for a fixed set of items (embedded lists like `subscription.items`). */
export function listOf<T>(data: T[], url: string, hasMore = false): ListObject<T> {
  return { object: 'list', data, has_more: hasMore, url };
}
