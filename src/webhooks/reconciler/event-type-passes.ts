import { EVENTS_CURSOR } from './events-cursor';

/**
 * Stripe's cap on the `types[]` filter of `GET /v1/events`: "An array of up to 20 strings containing specific event
 * names" (`EventListParams.types` in the `stripe` SDK's types; https://docs.stripe.com/api/events/list).
 */
export const EVENT_TYPES_PER_LISTING = 20;

/** One listing of Stripe's events: the types it asks for, and the `sync_cursor` row of where it stands. */
export interface EventTypePass {
  cursorName: string;
  types: readonly string[];
}

/**
 * The handled types cut, in order, into listings of at most `perListing` types, each walked with a cursor of its
 * own (one listing cannot hold them all, and a listing without `types[]` would bring every event of the account).
 * The first keeps the cursor of the days of one listing (`stripe_events`), the others `stripe_events:2`, `:3`, ….
 * Cut in order, a type appended to the handled map never moves another from the pass whose cursor walked it.
 */
export function eventTypePasses(
  types: readonly string[],
  perListing = EVENT_TYPES_PER_LISTING,
): EventTypePass[] {
  const passes: EventTypePass[] = [];
  for (let start = 0; start < types.length; start += perListing) {
    const index = passes.length;
    passes.push({
      cursorName: index === 0 ? EVENTS_CURSOR : `${EVENTS_CURSOR}:${index + 1}`,
      types: types.slice(start, start + perListing),
    });
  }
  return passes;
}
