import type Stripe from 'stripe';
import type { Logger } from '../../logging/logger';
import type { InboxReads } from '../inbox/inbox-reads';
import { UNREADABLE_PAYLOAD, type WebhookInbox } from '../inbox/webhook-inbox';
import type { ProcessingOutcome, WebhookProcessor } from '../pipeline/webhook-processor';
import { type EventsCursor, type EventsCursorStore, FROM_THE_OLDEST } from './events-cursor';
import type { EventPage, EventPageLimits, StripeEventPages } from './stripe-event-pages';

/** How much one run does; the defaults are for production, tests make them small. */
export interface CatchUpLimits extends EventPageLimits {
  /**
   * Pages of events one run processes of each listing; a larger backlog is continued by the next run, from the
   * listing's cursor.
   */
  maxEventPages: number;
  /** Inbox rows retried per run (those due longest ago first); the rest wait for the next run. */
  retryBatchSize: number;
}

/** A failed event at the end of a run. */
export interface CatchUpFailure {
  eventId: string;
  type: string;
  error: string;
  /** The inbox gave up on it (retry policy): no more automatic retries. */
  dead: boolean;
}

/** What one `catchUp()` did. */
export interface CatchUpSummary {
  /** Events Stripe listed since the cursor (repeats when finding the place by time included). */
  seen: number;
  processed: number;
  /** Events we already had processed (the overlap, or ones the webhook delivered). */
  duplicates: number;
  /** Events stored but of a type we do not handle. */
  ignored: number;
  /** Events (listed or retried) that still failed at the end of the run; the inbox retries them. */
  failed: number;
  /** Of those, rows the inbox gave up on this run (dead). */
  dead: number;
  /** Inbox rows left failed or stuck that were processed again. */
  retried: number;
  failures: CatchUpFailure[];
  /** The page cap stopped a walk before Stripe's newest event: the next run continues from its cursor. */
  backlog: boolean;
  /** Where each listing's walk stands after the run, in the order of the listings. */
  cursors: ListingCursor[];
}

/** Where one listing's walk stands. */
export interface ListingCursor {
  /** Its `sync_cursor` row. */
  name: string;
  /** The `created` second of the last event got past, or null if it has got past none yet. */
  created: number | null;
  /** The id of that event (null before the first event, or for a cursor from before ids were kept). */
  eventId: string | null;
}

/** One listing of Stripe's events (`EventTypePass`): its pages, and its cursor. */
export interface EventListing {
  cursor: EventsCursorStore;
  pages: StripeEventPages;
}

/** What catching up works with: the pipeline, the inbox, and the listings of Stripe's events. */
export interface CatchUpParts {
  processor: WebhookProcessor;
  inbox: WebhookInbox;
  inboxReads: InboxReads;
  /** The handled types need more than one listing (Stripe's `types[]` holds 20): each walks on its own cursor. */
  listings: readonly EventListing[];
}

/** Runs an event through the pipeline as the reconciler; a failure (already recorded in the inbox) is answered. */
export async function processQuietly(
  processor: WebhookProcessor,
  event: Stripe.Event,
): Promise<ProcessingOutcome | { error: string }> {
  try {
    return await processor.process(event, 'reconciler');
  } catch (error) {
    // The processor already marked the inbox row failed and logged why.
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Walks Stripe's handled events forward from the cursor, oldest first, through the same pipeline as the webhook
 * endpoint (the inbox's unique event id makes that exactly once), then retries inbox rows whose next attempt is
 * due. Once an event is in the inbox, whatever became of it, the cursor may pass it: a failed event is retried
 * from the inbox (with back-off, until the retry policy gives up on it), so one event that always fails never
 * holds back the events after it. The cursor moves page by page; a backlog larger than `maxEventPages` pages is
 * continued by the next run from where this one stopped. The handled types are listed in several listings
 * (`eventTypePasses`), one after the other, each with its own cursor: the handlers read what they apply from
 * Stripe (ADR 0005), so events of two listings need no order between them.
 */
export class CatchUp {
  constructor(
    private readonly parts: CatchUpParts,
    private readonly limits: CatchUpLimits,
    private readonly logger: Logger,
    private readonly isStopping: () => boolean,
  ) {}

  async run(): Promise<CatchUpSummary> {
    const starts = await this.startingPlaces();
    const summary = emptySummary(this.parts.listings, starts);
    const attempted = new Set<string>();
    // Failures of every listing wait for the end of the run: a later listing's event may make them processable.
    const failed = new Map<string, Stripe.Event>();
    for (const [index, listing] of this.parts.listings.entries()) {
      if (this.isStopping()) break;
      const place = summary.cursors[index] as ListingCursor;
      await this.walkEvents(listing, starts[index] ?? null, { summary, place, attempted, failed });
    }
    await this.secondChance(failed, summary);
    if (!this.isStopping()) await this.retryInbox(summary, attempted);
    return summary;
  }

  /**
   * Where each listing starts: its cursor. A listing with no cursor row while another has one was added since
   * (a handled type appended beyond the 20 of a listing): it starts where the least advanced listing stands, as a
   * type added to one listing would. The first run of all seeds every listing `FROM_THE_OLDEST`. The seed is
   * written before walking, so a run stopped before a listing moved does not leave it looking added later (its
   * start would then pass over the events it never listed).
   */
  private async startingPlaces(): Promise<Array<EventsCursor | null>> {
    const { listings } = this.parts;
    const read = await Promise.all(listings.map((listing) => listing.cursor.read()));
    const walked = read.filter((cursor): cursor is EventsCursor => cursor !== null);
    if (walked.length === listings.length) return read;
    const seed =
      walked.length === 0
        ? FROM_THE_OLDEST
        : { created: Math.min(...walked.map((cursor) => cursor.created)), eventId: null };
    for (const [index, listing] of listings.entries()) {
      if (read[index] === null) await listing.cursor.seed(seed);
    }
    // A run at the same time may have seeded first: its seed stands.
    return Promise.all(listings.map((listing) => listing.cursor.read()));
  }

  /**
   * Processes one listing's pages of events after `start`, moving its cursor past each page once every event of
   * it is in the inbox. The events that failed are kept in `walk.failed`, for a second chance at the end of the run.
   */
  private async walkEvents(listing: EventListing, start: EventsCursor | null, walk: Walk): Promise<void> {
    const { summary, place, attempted, failed } = walk;
    let page: EventPage | null = await listing.pages.first(start);
    for (let pages = 1; page && page.events.length > 0; pages++) {
      const passed = await this.processPage(page.events, summary, attempted, failed);
      if (passed) {
        await listing.cursor.advance({ created: passed.created, eventId: passed.id });
        place.created = passed.created;
        place.eventId = passed.id;
      }
      if (!passed || passed !== page.events.at(-1) || this.isStopping() || !page.newerMayFollow) break;
      if (pages >= this.limits.maxEventPages) {
        summary.backlog = true;
        this.logger.info(
          { pages, cursor: passed.id, listing: place.name },
          'more Stripe events than one run processes; the next run continues from the cursor',
        );
        break;
      }
      page = await listing.pages.newerThan(passed.id);
    }
  }

  /**
   * Runs one page (oldest first) through the processor; returns the last event it got past. An event that fails
   * is passed once the inbox holds it (the inbox retries it); one the inbox could not even store (the database
   * is down) ends the run there, so the cursor stays before it.
   */
  private async processPage(
    events: readonly Stripe.Event[],
    summary: CatchUpSummary,
    attempted: Set<string>,
    failed: Map<string, Stripe.Event>,
  ): Promise<Stripe.Event | null> {
    let passed: Stripe.Event | null = null;
    for (const event of events) {
      if (this.isStopping()) break;
      attempted.add(event.id);
      summary.seen += 1;
      const result = await processQuietly(this.parts.processor, event);
      if (typeof result === 'string') {
        count(summary, result);
      } else {
        if ((await this.parts.inboxReads.statusOf(event.id)) === null) {
          throw new Error(
            `Stripe event ${event.id} could not be stored in the inbox (${result.error}); the cursor stays before it`,
          );
        }
        failed.set(event.id, event);
      }
      passed = event;
    }
    return passed;
  }

  /**
   * A later event of the same run may have made a failed one processable (e.g. it linked the customer): each
   * failed event gets a second try before the run reports it. What still fails stays with the inbox's retries.
   */
  private async secondChance(
    failed: ReadonlyMap<string, Stripe.Event>,
    summary: CatchUpSummary,
  ): Promise<void> {
    for (const event of failed.values()) {
      if (this.isStopping()) return;
      const result = await processQuietly(this.parts.processor, event);
      if (typeof result === 'string') count(summary, result);
      else await this.reportFailure(summary, event.id, event.type, result.error);
    }
  }

  /**
   * Inbox rows whose next attempt is due, those due longest ago first. A row that fails again is due again only
   * after a longer wait, so rows that keep failing go to the back and never fill every run's batch; the policy
   * ends with them dead. A row whose payload is not a Stripe event is dead at once.
   */
  private async retryInbox(summary: CatchUpSummary, alreadyAttempted: ReadonlySet<string>): Promise<void> {
    for (const due of await this.parts.inboxReads.dueForRetry(this.limits.retryBatchSize)) {
      if (this.isStopping()) return;
      if (alreadyAttempted.has(due.stripeEventId)) continue;
      if (!due.event) {
        await this.parts.inbox.buryUnreadable(due.rowId, due.stripeEventId);
        await this.reportFailure(summary, due.stripeEventId, due.type, UNREADABLE_PAYLOAD);
        continue;
      }
      const result = await processQuietly(this.parts.processor, due.event);
      if (typeof result === 'string') {
        summary.retried += 1;
        count(summary, result);
      } else {
        await this.reportFailure(summary, due.stripeEventId, due.type, result.error);
      }
    }
  }

  /** Adds a failure to the summary, dead if the inbox gave up on it. */
  private async reportFailure(
    summary: CatchUpSummary,
    eventId: string,
    type: string,
    error: string,
  ): Promise<void> {
    const dead = (await this.parts.inboxReads.statusOf(eventId)) === 'dead';
    summary.failed += 1;
    if (dead) summary.dead += 1;
    summary.failures.push({ eventId, type, error, dead });
  }
}

/** What one listing's walk adds to: the run's summary, its own place, and what the run attempted and saw fail. */
interface Walk {
  summary: CatchUpSummary;
  place: ListingCursor;
  attempted: Set<string>;
  failed: Map<string, Stripe.Event>;
}

function emptySummary(
  listings: readonly EventListing[],
  starts: ReadonlyArray<EventsCursor | null>,
): CatchUpSummary {
  return {
    seen: 0,
    processed: 0,
    duplicates: 0,
    ignored: 0,
    failed: 0,
    dead: 0,
    retried: 0,
    failures: [],
    backlog: false,
    cursors: listings.map((listing, index) => {
      const start = starts[index];
      // A seeded `FROM_THE_OLDEST` has got past nothing.
      const walked = start && start.created > 0 ? start : null;
      return {
        name: listing.cursor.name,
        created: walked?.created ?? null,
        eventId: walked?.eventId ?? null,
      };
    }),
  };
}

function count(summary: CatchUpSummary, outcome: ProcessingOutcome): void {
  if (outcome === 'processed') summary.processed += 1;
  else if (outcome === 'duplicate') summary.duplicates += 1;
  else summary.ignored += 1;
}
