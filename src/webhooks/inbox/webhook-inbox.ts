import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import { type BareOutcome, inBareTransactionWithFirst } from '../../database/bare-transaction';
import { type PreparedSql, preparedSqlIn } from '../../database/prepared-transaction';
import { WebhookEvent, type WebhookEventStatus } from '../../entities';
import type { Logger } from '../../logging/logger';
import { isDead, retryDelaySeconds, STUCK_AFTER_MS } from './inbox-retry-policy';
import { type EventSource, inboxRowValues } from './inbox-row';

/** How an event reached us: a webhook delivery, or the reconciler listing Stripe's events. */
export type { EventSource } from './inbox-row';

/** What the inbox holds for an event when it reaches us. */
export interface StoredEvent {
  status: WebhookEventStatus;
  source: EventSource;
  receivedAt: Date;
  /** Attempts before this one. */
  attempts: number;
}

export interface StoredEventRow {
  status: WebhookEventStatus;
  source: EventSource;
  received_at: Date | string;
  attempts: number | string;
}

/** Why a row whose payload is not a Stripe event is dead. */
export const UNREADABLE_PAYLOAD = 'the stored payload is not a Stripe event';

/** Longest error text kept on a row. */
const MAX_ERROR_LENGTH = 2000;

/**
 * A new inbox row, `received`. Its arrival is the database's clock (`clock_timestamp()`, microseconds), the same
 * for every instance: the order events of one key are processed in (ADR 0020). It is due for the reconciler
 * `STUCK_AFTER_MS` after it arrives: processing ends long before that, unless every instance's queue is down.
 */
const INSERT_EVENT = `insert into webhook_event
    (id, stripe_event_id, type, payload, object_id, ordering_key, source, status, attempts, stripe_created_at,
     received_at, next_attempt_at, created_at, updated_at)
  values (?, ?, ?, ?, ?, ?, ?, 'received', 0, ?, clock_timestamp(),
          clock_timestamp() + ${STUCK_AFTER_MS} * interval '1 millisecond', clock_timestamp(), clock_timestamp())`;

/** `WebhookInbox.claim`'s statement (why, there); its values are `claimValues`. */
const CLAIM_EVENT = `with claimed as (
     update webhook_event
        set status = 'processed', attempts = attempts + 1, processed_at = ?, last_error = null,
            next_attempt_at = null, updated_at = ?
      where stripe_event_id = ? and status <> 'processed'
        and (ordering_key is null or pg_advisory_xact_lock(hashtextextended(ordering_key, 0)) is not null)
      returning id, ordering_key),
   brought_forward as (
     update webhook_event waiting set next_attempt_at = ?
       from claimed
      where waiting.ordering_key = claimed.ordering_key and waiting.status = 'failed'
        and waiting.next_attempt_at > ?)
   select id from claimed`;

function claimValues(stripeEventId: string, claimedAt: Date): [Date, Date, string, Date, Date] {
  return [claimedAt, claimedAt, stripeEventId, claimedAt, claimedAt];
}

/** A row as the inbox answers it to the processor. */
export function storedEventOf(row: StoredEventRow): StoredEvent {
  return {
    status: row.status,
    source: row.source,
    receivedAt: new Date(row.received_at),
    attempts: Number(row.attempts),
  };
}

/**
 * The webhook inbox (ADR 0006): every Stripe event stored by its id before anything else happens to it, and
 * each state it goes through after. All of the inbox's SQL is here. Every write that ends an attempt is one
 * statement that never goes over a concurrent delivery's `processed`: an event is applied once, whatever races.
 */
export class WebhookInbox {
  constructor(
    private readonly orm: Orm,
    private readonly logger: Logger,
  ) {}

  /**
   * Inserts the event unless we have it, and answers what the inbox holds for it, in one statement (issue 8:
   * it was an insert and a re-read): the reconciler's way in, which processes the event at once. The `select`
   * half sees the statement's snapshot: when a concurrent delivery inserted the same event and committed while
   * this insert waited on it, neither half returns a row, and the row is read again (then committed and visible).
   */
  async store(event: Stripe.Event, source: EventSource): Promise<StoredEvent> {
    const em = this.orm.em.fork();
    const rows = await em.execute<StoredEventRow[]>(
      `with inserted as (
         ${INSERT_EVENT}
         on conflict (stripe_event_id) do nothing
         returning status, source, received_at, attempts)
       select status, source, received_at, attempts from inserted
       union all
       select status, source, received_at, attempts from webhook_event
        where stripe_event_id = ? and not exists (select 1 from inserted)`,
      [...inboxRowValues(event, source), event.id],
    );
    const row =
      rows[0] ??
      (
        await em.execute<StoredEventRow[]>(
          'select status, source, received_at, attempts from webhook_event where stripe_event_id = ?',
          [event.id],
        )
      )[0];
    if (!row) throw new Error(`webhook event ${event.id} is not in the inbox after storing it`);
    return storedEventOf(row);
  }

  /**
   * Claims the event inside its transaction: locks and marks it processed in one statement (issue 8: it was a
   * `select … for update` and an update at the end). The update waits for a concurrent delivery of this event
   * holding the row, then re-checks the status: if that one committed `processed`, no row comes back and the
   * answer is false. `processed` only becomes visible with the transaction's commit, and a rollback undoes it
   * with everything else, so it means what it meant. It also takes a lock on the event's ordering key for the
   * transaction (ADR 0020): whatever path an event comes by (a queue worker, the reconciler, a replay), the
   * effects of two events of one key never commit interleaved. And it brings the failed events of the key
   * forward (due now, with this commit): what this event changed (a customer linked to its account, say) may be
   * what they were waiting for, as the reconciler's second chance assumes too. Prepared on the transaction's
   * connection (planned once per connection: it runs for every event, issue 14).
   */
  async claim(tx: EntityManager, stripeEventId: string): Promise<boolean> {
    const claimedAt = new Date();
    const sql = await preparedSqlIn(tx);
    const claimed = await sql<{ id: string }>(CLAIM_EVENT, claimValues(stripeEventId, claimedAt));
    return claimed.length > 0;
  }

  /**
   * `claim`, and then `work`, in one transaction below the ORM whose `BEGIN` goes out with the claim and work's
   * first statement in one round trip (`inBareTransactionWithFirst`, issue 14): the queue worker's hot path, for an effect
   * that needs no entity (`BareEffect`). Null when a concurrent delivery processed the event first (work's first
   * statement, already run behind the claim, is rolled back and work goes no further), or when `work` rolls back;
   * the same statement, so the same guarantees as `claim`: the first statement runs after the claim, with the
   * claim's row and key locks held.
   */
  async inClaimedTransaction<T>(
    stripeEventId: string,
    work: (sql: PreparedSql) => Promise<BareOutcome<T>>,
  ): Promise<T | null> {
    return inBareTransactionWithFirst<{ id: string }, T>(
      this.orm,
      {
        text: CLAIM_EVENT,
        values: claimValues(stripeEventId, new Date()),
        proceeds: (claimed) => claimed.length > 0,
      },
      work,
    );
  }

  /** An event of a type we do not handle: kept, as `ignored`, and never retried. */
  async markUnhandled(stripeEventId: string): Promise<boolean> {
    // Only from a waiting row: the reconciler's direct path and a queue worker can both hold the event (the
    // reconciler stores it `received`, a worker claims it before the reconciler marks it), and the second to get
    // here finds it ignored already and answers `duplicate` instead of counting and logging it a second time.
    const marked = await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { stripeEventId, status: { $in: ['received', 'processing', 'failed'] } },
        { status: 'ignored', processedAt: new Date(), nextAttemptAt: null },
      );
    return marked > 0;
  }

  /**
   * Keeps an event that is not ours to apply as `ignored`, with the reason. Never over `processed`: a concurrent
   * delivery may have processed it between this attempt's rollback and here (then it was applied once, by that
   * delivery, and the answer is false).
   */
  async markIgnored(stripeEventId: string, reason: string): Promise<boolean> {
    const now = new Date();
    const ignored = await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { stripeEventId, status: { $ne: 'processed' } },
        { status: 'ignored', processedAt: now, lastError: reason.slice(0, MAX_ERROR_LENGTH), updatedAt: now },
      );
    return ignored > 0;
  }

  /**
   * Gives up on an event we kept retrying in vain (its customer never linked: `UNLINKED_GIVE_UP_MS`): `ignored`,
   * not retried any more, and never over `processed` (false then, as for `markIgnored`).
   */
  async giveUp(stripeEventId: string, reason: string): Promise<boolean> {
    const now = new Date();
    const givenUp = await this.orm.em.fork().nativeUpdate(
      WebhookEvent,
      { stripeEventId, status: { $ne: 'processed' } },
      {
        status: 'ignored',
        processedAt: now,
        lastError: `given up: ${reason}`,
        nextAttemptAt: null,
        updatedAt: now,
      },
    );
    return givenUp > 0;
  }

  /**
   * Counts the failed attempt and decides, by the retry policy, whether the row waits for another try (`failed`,
   * with `next_attempt_at`) or is given up on (`dead`); answers whether it is dead now. The decision counts from
   * the attempts the row held when this delivery stored it: a concurrent failing delivery may make it one
   * attempt late, never early. The status and the count change together or not at all, in one statement.
   */
  async markFailed(stripeEventId: string, stored: StoredEvent, reason: string): Promise<boolean> {
    const now = new Date();
    const attempts = stored.attempts + 1;
    const dead = isDead(attempts, stored.receivedAt, now);
    const marked = await this.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>(
        `update webhook_event
            set status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ?
          where stripe_event_id = ? and status <> 'processed'
          returning id`,
        [
          dead ? 'dead' : 'failed',
          reason.slice(0, MAX_ERROR_LENGTH),
          dead ? null : new Date(now.getTime() + retryDelaySeconds(attempts) * 1000),
          now,
          stripeEventId,
        ],
      );
    return dead && marked.length > 0;
  }

  /**
   * Reopens a stored event for a forced replay (a processed or dead one too) as `processing` under the replay's
   * own lease: the queue's workers claim a `received` row at once, so a row reopened as `received` was also
   * processed by a worker beside the replay (an unhandled type then counted and logged twice; a handled one
   * kept once by the inbox claim, the other attempt a `duplicate`). If this instance dies mid-replay, the lease
   * runs out and a worker or the reconciler takes the row up again.
   */
  async reopen(stripeEventId: string): Promise<void> {
    const now = new Date();
    await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { stripeEventId },
        { status: 'processing', nextAttemptAt: new Date(now.getTime() + STUCK_AFTER_MS), updatedAt: now },
      );
  }

  /** A row whose payload is not a Stripe event can never be processed: dead at once, for a person to look at. */
  async buryUnreadable(rowId: string, stripeEventId: string): Promise<void> {
    await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { id: rowId, status: { $ne: 'processed' } },
        { status: 'dead', lastError: UNREADABLE_PAYLOAD, nextAttemptAt: null, updatedAt: new Date() },
      );
    this.logger.error({ eventId: stripeEventId }, 'webhook event is dead: its stored payload is unreadable');
  }
}
