import { type FilterQuery, QueryOrder } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import { WebhookEvent, type WebhookEventStatus } from '../../entities';
import type { EventSource } from './webhook-inbox';
import { STUCK_AFTER_MS } from './inbox-retry-policy';

/** One inbox row as the admin API shows it (the payload can be large and is not part of the API). */
export interface InboxEntry {
  /** Our row id: the admin listing's cursor. */
  rowId: string;
  stripeEventId: string;
  type: string;
  status: WebhookEventStatus;
  attempts: number;
  lastError: string | null;
  objectId: string | null;
  source: EventSource;
  receivedAt: Date;
  processedAt: Date | null;
  nextAttemptAt: Date | null;
}

/** Where a page of the admin listing starts: after the row with this arrival time and id. */
export interface InboxPosition {
  receivedAtMs: number;
  rowId: string;
}

/** An inbox row due for another try, with its event as stored (null when the payload is not a Stripe event). */
export interface DueEvent {
  rowId: string;
  stripeEventId: string;
  type: string;
  event: Stripe.Event | null;
}

/** What is read from the inbox: by the admin API, and by the reconciler looking for rows to retry. */
export class InboxReads {
  constructor(private readonly orm: Orm) {}

  /** The inbox newest first by arrival, `first` rows after `after`; `hasNextPage` if more follow. */
  async page(
    status: WebhookEventStatus | null,
    first: number,
    after: InboxPosition | null,
  ): Promise<{ entries: InboxEntry[]; hasNextPage: boolean }> {
    const where: FilterQuery<WebhookEvent> = status ? { status } : {};
    const filter: FilterQuery<WebhookEvent> = after
      ? {
          $and: [
            where,
            {
              $or: [
                { receivedAt: { $lt: new Date(after.receivedAtMs) } },
                { receivedAt: new Date(after.receivedAtMs), id: { $lt: after.rowId } },
              ],
            },
          ],
        }
      : where;
    const rows = await this.orm.em.fork().find(WebhookEvent, filter, {
      orderBy: [{ receivedAt: 'desc' }, { id: 'desc' }],
      limit: first + 1,
      exclude: ['payload'],
    });
    return { entries: rows.slice(0, first).map(entryOf), hasNextPage: rows.length > first };
  }

  /**
   * One row by its Stripe event id, with its event as stored (null when the payload is not a Stripe event) and
   * whether its payload was pruned by the retention.
   */
  async find(
    stripeEventId: string,
  ): Promise<{ entry: InboxEntry; event: Stripe.Event | null; pruned: boolean } | null> {
    const row = await this.orm.em.fork().findOne(WebhookEvent, { stripeEventId });
    return row ? { entry: entryOf(row), event: storedEvent(row), pruned: row.payload === null } : null;
  }

  async statusOf(stripeEventId: string): Promise<WebhookEventStatus | null> {
    const row = await this.orm.em
      .fork()
      .findOne(WebhookEvent, { stripeEventId }, { fields: ['status'], disableIdentityMap: true });
    return row?.status ?? null;
  }

  /**
   * Rows whose next attempt is due (failed ones after their back-off, ones left received or processing by a
   * crash), those due longest ago first, at most `limit`.
   */
  async dueForRetry(limit: number): Promise<DueEvent[]> {
    const statuses: WebhookEventStatus[] = ['failed', 'received', 'processing'];
    const now = Date.now();
    const rows = await this.orm.em.fork().find(
      WebhookEvent,
      {
        status: { $in: statuses },
        $or: [
          { nextAttemptAt: { $lte: new Date(now) } },
          // Written by a version from before the retry policy (a rolling deploy, a rollback): due by its age,
          // first in line; the failure of this try gives it a next attempt like any other row.
          { nextAttemptAt: null, updatedAt: { $lt: new Date(now - STUCK_AFTER_MS) } },
        ],
      },
      { orderBy: { nextAttemptAt: QueryOrder.ASC_NULLS_FIRST }, limit },
    );
    return rows.map((row) => ({
      rowId: row.id,
      stripeEventId: row.stripeEventId,
      type: row.type,
      event: storedEvent(row),
    }));
  }
}

function entryOf(row: Omit<WebhookEvent, 'payload'>): InboxEntry {
  return {
    rowId: row.id,
    stripeEventId: row.stripeEventId,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    lastError: row.lastError,
    objectId: row.objectId,
    source: row.source,
    receivedAt: row.receivedAt,
    processedAt: row.processedAt,
    nextAttemptAt: row.nextAttemptAt,
  };
}

/**
 * The event as the inbox stored it (the whole JSON Stripe sent), or null if the row holds something else or its
 * payload was pruned (only processed and ignored rows are: never one that is still to be retried).
 */
function storedEvent(row: WebhookEvent): Stripe.Event | null {
  const payload = row.payload as Partial<Stripe.Event> | null;
  if (
    !payload ||
    payload.id !== row.stripeEventId ||
    typeof payload.type !== 'string' ||
    !payload.data?.object
  )
    return null;
  return payload as Stripe.Event;
}
