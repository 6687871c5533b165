import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Orm } from '../database/database';
import type { PaymentMetrics, WebhookMetrics } from '../observability/metrics';
import { WebhookEvent, type WebhookEventStatus } from '../entities';
import type { AccountEvents } from '../services/accounts/account-events';
import type { Logger } from '../logging/logger';
import type { HandlerTools } from './handler.types';
import { effectResultOf, NotOursError, RetryLaterError } from './handler.types';
import { HANDLERS } from './handlers';
import { paymentOutcomeOf } from './handlers/invoice.handlers';
import { isDead, retryDelaySeconds, STUCK_AFTER_MS } from './inbox-retry-policy';

export type ProcessingOutcome = 'processed' | 'duplicate' | 'ignored';

/** What the inbox holds for an event when it reaches us. */
interface StoredEvent {
  status: WebhookEventStatus;
  source: 'webhook' | 'reconciler';
  receivedAt: Date;
  /** Attempts before this one. */
  attempts: number;
}

interface StoredEventRow {
  status: WebhookEventStatus;
  source: 'webhook' | 'reconciler';
  received_at: Date | string;
  attempts: number | string;
}

/**
 * How long an event about a customer we cannot link to an account is retried. Past that it is not ours (a
 * customer made by hand in the Stripe Dashboard, say): it is kept as `ignored` with the reason, visible to
 * admins and replayable, instead of failing forever and getting the endpoint disabled by Stripe.
 */
export const UNLINKED_GIVE_UP_MS = 60 * 60 * 1000;

/**
 * The inbox and dispatcher. Every event is stored by its Stripe id before anything else; a processed one is
 * never processed again; processing (the handler's effect, provisioning, marking processed) is one transaction
 * holding a lock on the inbox row, so concurrent deliveries of one event — on any number of instances — apply
 * it once. A failure rolls back, marks the event failed with its attempt count and when the reconciler may try
 * it again (or dead, past the retry policy: `inbox-retry-policy.ts`), and is rethrown (500), so Stripe retries.
 * Subscribers are told only after the commit.
 */
export class WebhookProcessor {
  constructor(
    private readonly orm: Orm,
    private readonly tools: HandlerTools,
    private readonly events: AccountEvents,
    private readonly logger: Logger,
    private readonly metrics: { webhooks: WebhookMetrics; payments: PaymentMetrics } | null = null,
  ) {}

  async process(
    event: Stripe.Event,
    source: 'webhook' | 'reconciler' = 'webhook',
  ): Promise<ProcessingOutcome> {
    const started = performance.now();
    // Only the handled types are labels: anything else Stripe sends (hundreds of types) is `other`.
    const type = Object.hasOwn(HANDLERS, event.type) ? event.type : 'other';
    const seconds = () => (performance.now() - started) / 1000;
    // Labelled by how the event first reached us (its inbox row), so the reconciler retrying a delivered event
    // is not mistaken for a delivery Stripe never made.
    const reached = { source };
    try {
      const outcome = await this.processOnce(event, source, reached);
      this.metrics?.webhooks.handled(type, outcome, reached.source, seconds());
      const payment = outcome === 'processed' ? paymentOutcomeOf(event) : null;
      if (payment) this.metrics?.payments.outcome(payment);
      return outcome;
    } catch (error) {
      this.metrics?.webhooks.handled(type, 'failed', reached.source, seconds());
      throw error;
    }
  }

  private async processOnce(
    event: Stripe.Event,
    source: 'webhook' | 'reconciler',
    reached: { source: 'webhook' | 'reconciler' },
  ): Promise<ProcessingOutcome> {
    const em = this.orm.em.fork();
    const stored = await this.store(em, event, source);
    reached.source = stored.source;
    if (stored.status === 'processed' || stored.status === 'ignored') return 'duplicate';

    const handler = HANDLERS[event.type];
    if (!handler) {
      await em.nativeUpdate(
        WebhookEvent,
        { stripeEventId: event.id },
        { status: 'ignored', processedAt: new Date(), nextAttemptAt: null },
      );
      this.logger.info({ eventId: event.id, type: event.type }, 'stored an event type we do not handle');
      return 'ignored';
    }

    let accounts: string[] = [];
    let afterCommit: Array<() => void> = [];
    try {
      // Reading from Stripe happens before the transaction: no transaction is held open across a Stripe call.
      // The state is stamped with the time we started reading it, not the time we write it: a handler that read
      // before a change and wrote after another handler stored the change must lose (ADR 0005).
      const observedAt = this.tools.clock.now();
      const effect = await handler(event, this.tools);
      const outcome = await em.fork().transactional(async (tx) => {
        // Lock and mark in one statement (issue 8: it was a `select … for update` here and an update at the
        // end). The update waits for a concurrent delivery of this event holding the row, then re-checks the
        // status: if that one committed `processed`, no row comes back. `processed` only becomes visible with
        // this transaction's commit, and a rollback undoes it with everything else, so it means what it meant.
        const claimedAt = new Date();
        const claimed = await tx.execute<Array<{ id: string }>>(
          `update webhook_event
              set status = 'processed', attempts = attempts + 1, processed_at = ?, last_error = null,
                  next_attempt_at = null, updated_at = ?
            where stripe_event_id = ? and status <> 'processed'
            returning id`,
          [claimedAt, claimedAt, event.id],
        );
        if (claimed.length === 0) return 'duplicate' as const;
        const result = effectResultOf(await effect(tx, observedAt));
        accounts = [...new Set(result.accounts)];
        afterCommit = result.afterCommit ?? [];
        // For now, not for the read stamp (it orders reads; the usage period is today's); an allowance that
        // changed is weighed from when Stripe made the change (the event's time), however late it arrives.
        const changedAt = new Date(event.created * 1000);
        for (const accountId of new Set(result.provision))
          await this.tools.provisioner.provision(tx, accountId, this.tools.clock.now(), changedAt);
        return 'processed' as const;
      });
      if (outcome === 'duplicate') return 'duplicate';
    } catch (error) {
      if (error instanceof NotOursError) return this.markIgnored(event, error.message);
      if (
        error instanceof RetryLaterError &&
        Date.now() - stored.receivedAt.getTime() > UNLINKED_GIVE_UP_MS
      ) {
        // Never over `processed`: a concurrent delivery (the customer linked meanwhile) may have processed the
        // event between this transaction's rollback and here. Then it was applied once, by that delivery.
        const now = new Date();
        const givenUp = await em.nativeUpdate(
          WebhookEvent,
          { stripeEventId: event.id, status: { $ne: 'processed' } },
          {
            status: 'ignored',
            processedAt: now,
            lastError: `given up: ${error.message}`,
            nextAttemptAt: null,
            updatedAt: now,
          },
        );
        if (givenUp === 0) return 'duplicate';
        this.logger.warn(
          { eventId: event.id, type: event.type, reason: error.message },
          'gave up on an unlinkable event',
        );
        return 'ignored';
      }
      await this.markFailed(event, stored, error);
      throw error;
    }
    for (const done of afterCommit) done();
    for (const accountId of accounts) await this.events.accountUpdated(accountId, event.type);
    return 'processed';
  }

  /**
   * Keeps an event that is not ours to apply as `ignored`, with the reason, never over `processed` (a concurrent
   * delivery cannot have processed it either: the same handler refuses it there too, but the guard costs nothing).
   */
  private async markIgnored(event: Stripe.Event, reason: string): Promise<ProcessingOutcome> {
    const now = new Date();
    const ignored = await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { stripeEventId: event.id, status: { $ne: 'processed' } },
        { status: 'ignored', processedAt: now, lastError: reason.slice(0, 2000), updatedAt: now },
      );
    if (ignored === 0) return 'duplicate';
    this.logger.warn({ eventId: event.id, type: event.type, reason }, 'ignored an event that is not ours');
    return 'ignored';
  }

  /**
   * Inserts the event unless we have it, and answers what the inbox holds for it, in one statement (issue 8:
   * it was an insert and a re-read). The `select` half sees the statement's snapshot: when a concurrent delivery
   * inserted the same event and committed while this insert waited on it, neither half returns a row, and the
   * row is read again (then committed and visible). A new row is due for the reconciler `STUCK_AFTER_MS` after
   * it arrives: processing ends long before that, unless the instance died.
   */
  private async store(
    em: EntityManager,
    event: Stripe.Event,
    source: 'webhook' | 'reconciler',
  ): Promise<StoredEvent> {
    const now = new Date();
    const rows = await em.execute<StoredEventRow[]>(
      `with inserted as (
         insert into webhook_event
           (id, stripe_event_id, type, payload, object_id, source, status, attempts, stripe_created_at,
            received_at, next_attempt_at, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, 'received', 0, ?, ?, ?, ?, ?)
         on conflict (stripe_event_id) do nothing
         returning status, source, received_at, attempts)
       select status, source, received_at, attempts from inserted
       union all
       select status, source, received_at, attempts from webhook_event
        where stripe_event_id = ? and not exists (select 1 from inserted)`,
      [
        crypto.randomUUID(),
        event.id,
        event.type,
        JSON.stringify(event),
        (event.data.object as { id?: string }).id ?? null,
        source,
        new Date(event.created * 1000),
        now,
        new Date(now.getTime() + STUCK_AFTER_MS),
        now,
        now,
        event.id,
      ],
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
    return {
      status: row.status,
      source: row.source,
      receivedAt: new Date(row.received_at),
      attempts: Number(row.attempts),
    };
  }

  /**
   * Counts the failed attempt and decides, by the retry policy, whether the row waits for another try (`failed`,
   * with `next_attempt_at`) or is given up on (`dead`). The decision counts from the attempts the row held when
   * this delivery stored it: a concurrent failing delivery may make it one attempt late, never early.
   */
  private async markFailed(event: Stripe.Event, stored: StoredEvent, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const level = error instanceof RetryLaterError ? 'info' : 'warn';
    this.logger[level](
      { eventId: event.id, type: event.type, reason: message },
      'webhook event not processed; Stripe will retry',
    );
    const now = new Date();
    const attempts = stored.attempts + 1;
    const dead = isDead(attempts, stored.receivedAt, now);
    try {
      // One statement: the status and the attempt count change together or not at all, and never over a
      // concurrent delivery's `processed`.
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
            message.slice(0, 2000),
            dead ? null : new Date(now.getTime() + retryDelaySeconds(attempts) * 1000),
            now,
            event.id,
          ],
        );
      if (dead && marked.length > 0) {
        this.logger.error(
          { eventId: event.id, type: event.type, attempts, reason: message },
          'webhook event is dead: no more automatic retries; replay it once the cause is fixed',
        );
      }
    } catch (markError) {
      // The database may be what failed; the event is still answered 500 and Stripe retries it.
      this.logger.error({ eventId: event.id, err: markError }, 'could not mark the webhook event failed');
    }
  }
}
