import type Stripe from 'stripe';
import { BillingError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { StripeClient } from '../../services/stripe/stripe-client';
import { EVENTS_CURSOR, type EventsCursor } from './events-cursor';

/** Finding the place by time: the listing starts this much before the cursor's second, the inbox drops repeats. */
const CURSOR_OVERLAP_SECONDS = 1;

/** One page of Stripe's events, oldest first, and whether Stripe may hold newer ones after it. */
export interface EventPage {
  events: Stripe.Event[];
  newerMayFollow: boolean;
}

/** How the pages are read: events per page, and how far to seek back for the oldest. */
export interface EventPageLimits {
  /** Events asked for per page of `GET /v1/events` (Stripe allows 1–100). */
  eventPageSize: number;
  /**
   * Pages read to find the oldest event when there is no cursor event to walk from (the first run, or the
   * cursor's event is older than Stripe keeps): past this the run fails rather than skip the oldest events.
   */
  maxSeekPages: number;
}

/** Stripe's events of some types (one `EventTypePass`), page by page, oldest first, forward from a cursor. */
export class StripeEventPages {
  constructor(
    private readonly stripe: StripeClient,
    /** At most 20 (`EVENT_TYPES_PER_LISTING`): Stripe refuses a longer `types[]`. */
    private readonly types: readonly string[],
    private readonly limits: EventPageLimits,
    private readonly logger: Logger,
    private readonly isStopping: () => boolean,
  ) {}

  /**
   * Where the walk begins: the page just newer than the cursor's event; without a cursor event (the first run, a
   * cursor from before ids were kept, or an event older than Stripe keeps), the oldest page since the cursor's
   * second (or of all Stripe keeps, for no cursor or `FROM_THE_OLDEST`).
   */
  async first(cursor: EventsCursor | null): Promise<EventPage> {
    if (cursor?.eventId) {
      try {
        return await this.newerThan(cursor.eventId);
      } catch (error) {
        if (!isUnknownCursor(error)) throw error;
        // Stripe lists events "going back up to 30 days" (the SDK's events.list): an outage longer than that.
        this.logger.warn(
          { cursor: cursor.eventId },
          "the cursor's event is no longer in Stripe; finding the place by its time instead",
        );
      }
    }
    const walkedBefore = cursor !== null && cursor.created > 0;
    return this.oldest(walkedBefore ? cursor.created - CURSOR_OVERLAP_SECONDS : null);
  }

  /**
   * The events immediately newer than `eventId`. Stripe's `ending_before` answers the page just before the named
   * object in its newest-first order, still newest first, and `has_more` when there are newer ones still
   * (https://docs.stripe.com/api/pagination; the SDK's auto-pagination walks `ending_before` by `data[0]`).
   */
  async newerThan(eventId: string): Promise<EventPage> {
    const page = await this.list({ ending_before: eventId });
    return { events: [...page.data].reverse(), newerMayFollow: page.has_more };
  }

  /**
   * The oldest page of events created at or after `since` (null: all Stripe keeps). Stripe lists newest first
   * and only `starting_after` goes back in time, so this pages to the end keeping the last page only. Events
   * created meanwhile are newer: the walk reaches them with `ending_before` from this page.
   */
  private async oldest(since: number | null): Promise<EventPage> {
    const created = since === null ? {} : { created: { gte: since } };
    let page = await this.list(created);
    for (let pages = 1; page.has_more; pages++) {
      if (pages >= this.limits.maxSeekPages) {
        throw new Error(
          `more than ${pages} pages of Stripe events since the cursor: set sync_cursor '${EVENTS_CURSOR}' by hand`,
        );
      }
      const last = page.data.at(-1);
      if (!last || this.isStopping()) break;
      page = await this.list({ ...created, starting_after: last.id });
    }
    return { events: [...page.data].reverse(), newerMayFollow: true };
  }

  private list(position: Stripe.EventListParams): Promise<Stripe.ApiList<Stripe.Event>> {
    return this.stripe.call('events.list', (sdk) =>
      sdk.events.list({ types: [...this.types], limit: this.limits.eventPageSize, ...position }),
    );
  }
}

/**
 * Stripe's answer to a cursor id it does not have, as `StripeClient` maps it: an `invalid_request_error` naming
 * the cursor ("No such …", `param: starting_after`, seen without a `code` in stripe/stripe-node#258; now
 * usually `resource_missing`). The listing sends nothing else a request error could be about.
 */
function isUnknownCursor(error: unknown): boolean {
  if (!(error instanceof BillingError)) return false;
  const { stripeType, stripeCode } = error.extensions;
  return stripeType === 'invalid_request_error' && (stripeCode === 'resource_missing' || stripeCode === null);
}
