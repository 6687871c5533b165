import type Stripe from 'stripe';
import type { Logger } from '../../logging/logger';
import type { InboxReads } from '../inbox/inbox-reads';
import { UNREADABLE_PAYLOAD, type WebhookInbox } from '../inbox/webhook-inbox';
import type { ProcessingOutcome, WebhookProcessor } from '../pipeline/webhook-processor';
import type { EventsCursor, EventsCursorStore } from './events-cursor';
import type { EventPage, EventPageLimits, StripeEventPages } from './stripe-event-pages';

/** How much one run does; the defaults are for production, tests make them small. */
export interface CatchUpLimits extends EventPageLimits {
  /** Pages of events one run processes; a larger backlog is continued by the next run, from the cursor. */
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
  /** The page cap stopped the walk before Stripe's newest event: the next run continues from the cursor. */
  backlog: boolean;
  /** The cursor after the run (the `created` second of the last event got past), or null if there is none yet. */
  cursor: number | null;
  /** The id of that event (null before the first run, or for a cursor from before ids were kept). */
  cursorEventId: string | null;
}

/** What catching up works with: the pipeline, the inbox, and where the walk stands. */
export interface CatchUpParts {
  processor: WebhookProcessor;
  inbox: WebhookInbox;
  inboxReads: InboxReads;
  cursor: EventsCursorStore;
  pages: StripeEventPages;
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
 * continued by the next run from where this one stopped.
 */
export class CatchUp {
  constructor(
    private readonly parts: CatchUpParts,
    private readonly limits: CatchUpLimits,
    private readonly logger: Logger,
    private readonly isStopping: () => boolean,
  ) {}

  async run(): Promise<CatchUpSummary> {
    const start = await this.parts.cursor.read();
    const summary = emptySummary(start);
    const attempted = new Set<string>();
    const failed = await this.walkEvents(start, summary, attempted);
    await this.secondChance(failed, summary);
    if (!this.isStopping()) await this.retryInbox(summary, attempted);
    return summary;
  }

  /**
   * Processes the pages of events after `start`, moving the cursor past each page once every event of it is in
   * the inbox. Returns the events that failed, for a second chance at the end of the run.
   */
  private async walkEvents(
    start: EventsCursor | null,
    summary: CatchUpSummary,
    attempted: Set<string>,
  ): Promise<Map<string, Stripe.Event>> {
    const failed = new Map<string, Stripe.Event>();
    let page: EventPage | null = await this.parts.pages.first(start);
    for (let pages = 1; page && page.events.length > 0; pages++) {
      const passed = await this.processPage(page.events, summary, attempted, failed);
      if (passed) {
        await this.parts.cursor.advance({ created: passed.created, eventId: passed.id });
        summary.cursor = passed.created;
        summary.cursorEventId = passed.id;
      }
      if (!passed || passed !== page.events.at(-1) || this.isStopping() || !page.newerMayFollow) break;
      if (pages >= this.limits.maxEventPages) {
        summary.backlog = true;
        this.logger.info(
          { pages, cursor: passed.id },
          'more Stripe events than one run processes; the next run continues from the cursor',
        );
        break;
      }
      page = await this.parts.pages.newerThan(passed.id);
    }
    return failed;
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

function emptySummary(start: EventsCursor | null): CatchUpSummary {
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
    cursor: start?.created ?? null,
    cursorEventId: start?.eventId ?? null,
  };
}

function count(summary: CatchUpSummary, outcome: ProcessingOutcome): void {
  if (outcome === 'processed') summary.processed += 1;
  else if (outcome === 'duplicate') summary.duplicates += 1;
  else summary.ignored += 1;
}
