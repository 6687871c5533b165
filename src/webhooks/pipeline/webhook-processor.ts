import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import type { PaymentMetrics, WebhookMetrics } from '../../observability/metrics';
import type { AccountEvents } from '../../services/accounts/account-events';
import type { Logger } from '../../logging/logger';
import type { BareEffect, EffectResult, HandlerTools, WebhookHandler } from '../handler.types';
import { effectResultOf, NotOursError, RetryLaterError } from '../handler.types';
import { HANDLERS } from '../handlers';
import { UNLINKED_GIVE_UP_MS } from '../inbox/inbox-retry-policy';
import type { ClaimedEvent } from '../inbox/inbox-claims';
import type { EventSource, StoredEvent, WebhookInbox } from '../inbox/webhook-inbox';
import { nowAfter } from '../../services/time/clock';
import { paymentOutcomeOf } from './payment-outcome';

export type ProcessingOutcome = 'processed' | 'duplicate' | 'ignored';

/** `applyBare`'s answer when the effect has to run through the ORM. */
const NEEDS_THE_ORM = Symbol('needs the ORM');

/** What a committed event leaves to do: the accounts to tell, and what to count. */
interface Committed {
  accounts: string[];
  afterCommit: Array<() => void>;
}

/** What an effect's result leaves to do once its transaction commits (the ORM's or the one below it). */
function committedOf(result: EffectResult): Committed {
  return { accounts: [...new Set(result.accounts)], afterCommit: result.afterCommit ?? [] };
}

/**
 * The pipeline behind the webhook endpoint and the reconciler, in its steps: the event (already verified, or
 * listed from Stripe) is stored in the inbox before anything else; a processed one is never processed again;
 * its handler reads what it is about from Stripe and turns it into calls on our services; those calls, the
 * provisioning and marking the event processed are one transaction holding the inbox row, so concurrent
 * deliveries of one event — on any number of instances — apply it once; subscribers are told only after the
 * commit. A failure rolls back, is recorded on the inbox row (failed with its back-off, or dead: the inbox's
 * retry policy), and is rethrown (500), so Stripe retries.
 */
export class WebhookProcessor {
  constructor(
    private readonly orm: Orm,
    private readonly inbox: WebhookInbox,
    private readonly tools: HandlerTools,
    private readonly events: AccountEvents,
    private readonly logger: Logger,
    private readonly metrics: { webhooks: WebhookMetrics; payments: PaymentMetrics } | null = null,
  ) {}

  /**
   * Stores the event (unless the inbox has it) and processes it now, answering when it is committed: the
   * reconciler's and the replay's way. A failure is recorded on the inbox row and rethrown.
   */
  async process(event: Stripe.Event, source: EventSource = 'webhook'): Promise<ProcessingOutcome> {
    return this.measured(event, source, async (reached) => {
      const stored = await this.inbox.store(event, source);
      reached.source = stored.source;
      if (stored.status === 'processed' || stored.status === 'ignored') return 'duplicate';
      return this.processStored(event, stored);
    });
  }

  /**
   * Processes an event a queue worker claimed (ADR 0020): the inbox already holds it. A failure is recorded on
   * its row (the retry policy takes it from there) and answered as `failed`, never thrown: the delivery was
   * answered long ago.
   */
  async processClaimed(claimed: ClaimedEvent): Promise<ProcessingOutcome | 'failed'> {
    const { event, stored } = claimed;
    if (!event) {
      await this.inbox.buryUnreadable(claimed.rowId, claimed.stripeEventId);
      return 'failed';
    }
    try {
      return await this.measured(event, stored.source, () => this.processStored(event, stored));
    } catch {
      // Recorded on the row and logged by `settleFailure`.
      return 'failed';
    }
  }

  /** Runs `work`, counting its outcome by type and by how the event first reached us. */
  private async measured(
    event: Stripe.Event,
    source: EventSource,
    work: (reached: { source: EventSource }) => Promise<ProcessingOutcome>,
  ): Promise<ProcessingOutcome> {
    const started = performance.now();
    // Only the handled types are labels: anything else Stripe sends (hundreds of types) is `other`.
    const type = Object.hasOwn(HANDLERS, event.type) ? event.type : 'other';
    const seconds = () => (performance.now() - started) / 1000;
    // Labelled by how the event first reached us (its inbox row), so the reconciler retrying a delivered event
    // is not mistaken for a delivery Stripe never made.
    const reached = { source };
    try {
      const outcome = await work(reached);
      this.metrics?.webhooks.handled(type, outcome, reached.source, seconds());
      const payment = outcome === 'processed' ? paymentOutcomeOf(event) : null;
      if (payment) this.metrics?.payments.outcome(payment);
      return outcome;
    } catch (error) {
      this.metrics?.webhooks.handled(type, 'failed', reached.source, seconds());
      throw error;
    }
  }

  /** handler → services → commit → publish, for an event the inbox holds. */
  private async processStored(event: Stripe.Event, stored: StoredEvent): Promise<ProcessingOutcome> {
    const handler = HANDLERS[event.type];
    if (!handler) return this.ignoreUnhandled(event);
    let committed: Committed | null;
    try {
      committed = await this.applyAndCommit(event, handler);
    } catch (error) {
      return this.settleFailure(event, stored, error);
    }
    if (!committed) return 'duplicate';
    await this.publish(event, committed);
    return 'processed';
  }

  private async ignoreUnhandled(event: Stripe.Event): Promise<ProcessingOutcome> {
    if (!(await this.inbox.markUnhandled(event.id))) return 'duplicate';
    this.logger.info({ eventId: event.id, type: event.type }, 'stored an event type we do not handle');
    return 'ignored';
  }

  /**
   * The handler reads Stripe first, outside any transaction (none is held open across a Stripe call). What it
   * read is stamped with the time the reading started, not the time it is written: a handler that read before
   * a change and wrote after another handler stored the change must lose (ADR 0005). Then one transaction
   * claims the inbox row, runs the handler's service calls and provisions what they changed. Null when a
   * concurrent delivery processed the event first.
   */
  private async applyAndCommit(event: Stripe.Event, handler: WebhookHandler): Promise<Committed | null> {
    const changedAt = new Date(event.created * 1000);
    const observedAt = await nowAfter(this.tools.clock, changedAt, this.logger);
    const effect = await handler(event, this.tools);
    if (effect.bare) {
      const bare = await this.applyBare(event.id, effect.bare, observedAt);
      if (bare !== NEEDS_THE_ORM) return bare;
    }
    return this.orm.em.fork().transactional(async (tx) => {
      if (!(await this.inbox.claim(tx, event.id))) return null;
      const result = effectResultOf(await effect(tx, observedAt));
      // Now, not the read stamp (it orders reads; the usage period is today's); an allowance that changed is
      // weighed from when Stripe made the change (the event's time), however late it arrives, or from an earlier
      // moment the effect knows it was made at (a scheduled change reached at the renewal, brought by a later event).
      const effectiveAt = result.changedAt && result.changedAt < changedAt ? result.changedAt : changedAt;
      for (const accountId of new Set(result.provision))
        await this.tools.provisioner.provision(tx, accountId, this.tools.clock.now(), effectiveAt);
      return committedOf(result);
    });
  }

  /**
   * The hot path (issue 14): the inbox claim and the effect's bare form in one transaction below the ORM, its
   * `BEGIN` sent with the claim (`WebhookInbox.inClaimedTransaction`). Null when the event was processed first
   * elsewhere; `NEEDS_THE_ORM` when the effect cannot be applied so (a new row, an unknown customer) or asks for
   * provisioning: that transaction is rolled back, and the caller runs the effect through the ORM as before.
   */
  private async applyBare(
    eventId: string,
    bare: BareEffect,
    observedAt: Date,
  ): Promise<Committed | null | typeof NEEDS_THE_ORM> {
    const decided = { needsTheOrm: false };
    const committed = await this.inbox.inClaimedTransaction<Committed>(eventId, async (sql) => {
      const result = await bare(sql, observedAt);
      if (!result || result.provision.length > 0) {
        decided.needsTheOrm = true;
        return { commit: false };
      }
      return { commit: true, value: committedOf(result) };
    });
    return decided.needsTheOrm ? NEEDS_THE_ORM : committed;
  }

  /** Once committed (never on a rollback): what the effect counted is counted, and subscribers are told. */
  private async publish(event: Stripe.Event, committed: Committed): Promise<void> {
    for (const done of committed.afterCommit) done();
    for (const accountId of committed.accounts) await this.events.accountUpdated(accountId, event.type);
  }

  /**
   * What a failed attempt becomes: an event that is not ours is kept as ignored; one about a customer still not
   * linked after `UNLINKED_GIVE_UP_MS` is given up on; anything else is recorded as failed (or dead) and
   * rethrown, so Stripe delivers it again.
   */
  private async settleFailure(
    event: Stripe.Event,
    stored: StoredEvent,
    error: unknown,
  ): Promise<ProcessingOutcome> {
    if (error instanceof NotOursError) {
      if (!(await this.inbox.markIgnored(event.id, error.message))) return 'duplicate';
      this.logger.warn(
        { eventId: event.id, type: event.type, reason: error.message },
        'ignored an event that is not ours',
      );
      return 'ignored';
    }
    if (error instanceof RetryLaterError && Date.now() - stored.receivedAt.getTime() > UNLINKED_GIVE_UP_MS) {
      if (!(await this.inbox.giveUp(event.id, error.message))) return 'duplicate';
      this.logger.warn(
        { eventId: event.id, type: event.type, reason: error.message },
        'gave up on an unlinkable event',
      );
      return 'ignored';
    }
    await this.recordFailure(event, stored, error);
    throw error;
  }

  private async recordFailure(event: Stripe.Event, stored: StoredEvent, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const level = error instanceof RetryLaterError ? 'info' : 'warn';
    this.logger[level](
      { eventId: event.id, type: event.type, reason },
      'webhook event not processed; Stripe will retry',
    );
    try {
      if (await this.inbox.markFailed(event.id, stored, reason)) {
        this.logger.error(
          { eventId: event.id, type: event.type, attempts: stored.attempts + 1, reason },
          'webhook event is dead: no more automatic retries; replay it once the cause is fixed',
        );
      }
    } catch (markError) {
      // The database may be what failed; the event is still answered 500 and Stripe retries it.
      this.logger.error({ eventId: event.id, err: markError }, 'could not mark the webhook event failed');
    }
  }
}
