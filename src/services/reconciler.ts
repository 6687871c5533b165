import { LockMode } from '@mikro-orm/core';
import type Stripe from 'stripe';
import type { Config } from '../config';
import type { Orm } from '../database/database';
import {
  BillingCustomer,
  Entitlement,
  PaymentMethod,
  Subscription,
  SyncCursor,
  WebhookEvent,
  type WebhookEventStatus,
} from '../entities';
import { BillingError, ErrorCode, NotFoundError } from '../errors';
import { HANDLED_EVENT_TYPES } from '../webhooks/handlers';
import type { ProcessingOutcome, WebhookProcessor } from '../webhooks/webhook-processor';
import type { BillingServices } from './billing-services';
import { entitlementsOf } from './feature-provisioner';
import type { Logger } from './logger';
import { listAll, readStripeAccount } from './reconcile-account';
import { ReconcileLock } from './reconcile-lock';

/** The `sync_cursor` row holding the `created` second of the last Stripe event the reconciler got past. */
export const EVENTS_CURSOR = 'stripe_events';
/** Events are stamped by the second: the listing starts this much before the cursor, the inbox drops repeats. */
const CURSOR_OVERLAP_SECONDS = 1;
/** An inbox row `received` this long ago and still not processed was left behind by a crash. */
const STUCK_AFTER_MS = 60_000;
/** Inbox rows retried per run; the rest wait for the next run. */
const RETRY_BATCH = 100;
/** Past-due subscriptions read per page of the sweep. */
const SWEEP_BATCH = 500;
/** 100 events a page: a run that finds more than this many pages leaves the cursor where it was. */
const MAX_EVENT_PAGES = 1000;

/** What one `catchUp()` did. */
export interface CatchUpSummary {
  /** Events Stripe listed since the cursor (the overlap included). */
  seen: number;
  processed: number;
  /** Events we already had processed (the overlap, or ones the webhook delivered). */
  duplicates: number;
  /** Events stored but of a type we do not handle. */
  ignored: number;
  /** Events that still failed at the end of the run: the cursor stays before the first of them. */
  failed: number;
  /** Inbox rows left failed or stuck that were processed again. */
  retried: number;
  failures: Array<{ eventId: string; type: string; error: string }>;
  /** The cursor after the run (a `created` second), or null if there is none yet. */
  cursor: number | null;
}

/** What one `resyncAccount()` re-applied. */
export interface ResyncSummary {
  accountId: string;
  subscriptions: number;
  invoices: number;
  paymentMethods: number;
  /** The account's effective plan afterwards. */
  planKey: string;
}

export interface ReconcilerSettings {
  databaseUrl: string;
  /** `config.billing.reconcileIntervalMs`; 0 turns the periodic job off. */
  intervalMs: number;
}

const reconcilers = new WeakMap<BillingServices, Reconciler>();

/**
 * The reconciler of the instance these services belong to (what the admin resolvers use); STRIPE_ERROR when
 * the instance runs without Stripe and so has none.
 */
export function reconcilerOf(services: BillingServices): Reconciler {
  const reconciler = reconcilers.get(services);
  if (!reconciler) {
    throw new BillingError(
      ErrorCode.STRIPE_ERROR,
      'Stripe is not configured on this instance: set STRIPE_SECRET_KEY',
    );
  }
  return reconciler;
}

/**
 * Makes sure nothing Stripe told us is lost even when its webhooks were: Stripe retries a failed delivery for
 * three days, but a service down longer (or an endpoint misconfigured) would miss events for good.
 *
 * - `catchUp()` lists Stripe's events since the last one it got past and runs each through the same
 *   `WebhookProcessor` as the webhook endpoint (the inbox's unique event id makes that exactly once), oldest
 *   first; then it retries inbox rows left failed or stuck.
 * - `sweepGracePeriods()` moves past-due accounts whose grace period is over to the free plan: no Stripe event
 *   marks that moment, so without it they would keep their paid plan.
 * - `resyncAccount()` repairs one account from Stripe on demand.
 * - `start()` runs catch-up and sweep every `intervalMs`, on one instance at a time (`ReconcileLock`).
 */
export class Reconciler {
  private readonly lock: ReconcileLock;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly orm: Orm,
    private readonly processor: WebhookProcessor,
    private readonly services: BillingServices,
    private readonly settings: ReconcilerSettings,
    private readonly logger: Logger,
  ) {
    this.lock = new ReconcileLock(settings.databaseUrl);
    reconcilers.set(services, this);
  }

  /**
   * Starts the periodic job (nothing when the interval is 0). The first run comes one interval after start,
   * not at once: a restart storm of many instances does not all list Stripe's events in the same second, and
   * whatever happened while the service was down is still there to list then.
   */
  start(): void {
    if (this.settings.intervalMs <= 0 || this.timer || this.stopping) return;
    this.schedule();
  }

  /** Stops the job and waits for a run in progress, which stops after the event it is processing. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One run of the periodic job, if no other instance is running it: catch-up, then the grace sweep. */
  async runScheduled(): Promise<{ catchUp: CatchUpSummary; sweptAccounts: string[] } | null> {
    const outcome = await this.lock.withLock(async () => ({
      catchUp: await this.catchUp(),
      sweptAccounts: await this.sweepGracePeriods(),
    }));
    if (!outcome) {
      this.logger.debug({}, 'reconciliation skipped: another instance is running it');
      return null;
    }
    const { catchUp, sweptAccounts } = outcome.result;
    const level = catchUp.failed > 0 ? 'warn' : 'info';
    this.logger[level]({ reconcile: { ...catchUp, sweptAccounts } }, 'reconciled with Stripe');
    return outcome.result;
  }

  /**
   * Processes every handled Stripe event since the cursor, oldest first, then retries inbox rows left failed
   * or stuck. The cursor moves only past events that ended processed, duplicate or ignored: a failed event
   * keeps it before itself, so the next run lists it again.
   */
  async catchUp(): Promise<CatchUpSummary> {
    const cursor = await this.readCursor();
    const listing = await this.listEventsSince(cursor === null ? null : cursor - CURSOR_OVERLAP_SECONDS);
    const events = listing.events;
    const summary: CatchUpSummary = {
      seen: events.length,
      processed: 0,
      duplicates: 0,
      ignored: 0,
      failed: 0,
      retried: 0,
      failures: [],
      cursor,
    };

    const failures = new Map<string, { event: Stripe.Event; error: string }>();
    const attempted = new Set<string>();
    let reached = 0;
    for (const event of events) {
      if (this.stopping) break;
      attempted.add(event.id);
      const result = await this.tryProcess(event);
      if (typeof result === 'string') count(summary, result);
      else failures.set(event.id, { event, error: result.error });
      reached += 1;
    }
    // A later event of the same run may have made a failed one processable (e.g. it linked the customer):
    // each failed event gets a second chance before the run gives up on it.
    for (const [eventId, failure] of failures) {
      if (this.stopping) break;
      const result = await this.tryProcess(failure.event);
      if (typeof result === 'string') {
        count(summary, result);
        failures.delete(eventId);
      } else {
        failure.error = result.error;
      }
    }
    for (const { event, error } of failures.values()) {
      summary.failed += 1;
      summary.failures.push({ eventId: event.id, type: event.type, error });
    }

    // The cursor moves to the last event before the first one not done (failed, or not reached when stopping).
    let next = cursor;
    const firstNotDone = events.findIndex((event, index) => index >= reached || failures.has(event.id));
    const done = firstNotDone === -1 ? events : events.slice(0, firstNotDone);
    const last = done.at(-1);
    if (last && listing.complete) next = Math.max(next ?? 0, last.created);
    if (!listing.complete) {
      this.logger.error(
        { pages: MAX_EVENT_PAGES },
        'too many Stripe events to list in one run; the cursor stays',
      );
    }
    if (next !== null && next !== cursor) await this.advanceCursor(next);
    summary.cursor = next;

    if (!this.stopping) await this.retryInbox(summary, attempted);
    return summary;
  }

  /**
   * Processes a stored event again even if it was processed (a forced replay): its row goes back to
   * `received`, then through the processor. Safe because every handler re-reads its object from Stripe. A
   * failure is recorded on the row (status failed, the error) rather than thrown; the row is returned after.
   */
  async replay(stripeEventId: string): Promise<WebhookEvent> {
    const em = this.orm.em.fork();
    const row = await em.findOne(WebhookEvent, { stripeEventId });
    if (!row) throw new NotFoundError(`The webhook event ${stripeEventId}`);
    await em.nativeUpdate(WebhookEvent, { stripeEventId }, { status: 'received', updatedAt: new Date() });
    const event = storedEvent(row);
    if (!event)
      throw new BillingError(
        ErrorCode.CONFLICT,
        `The stored payload of ${stripeEventId} is not a Stripe event`,
      );
    const result = await this.tryProcess(event);
    if (typeof result !== 'string')
      this.logger.warn({ eventId: stripeEventId, reason: result.error }, 'replay failed');
    return this.orm.em.fork().findOneOrFail(WebhookEvent, { stripeEventId });
  }

  /**
   * Re-applies one account from Stripe: its customer record, all its subscriptions, its recent invoices and its
   * cards (a card no longer in Stripe is removed), then recomputes its entitlements. Stripe is read first; the
   * writes are one transaction; subscribers are told after the commit.
   */
  async resyncAccount(accountId: string): Promise<ResyncSummary> {
    const stripe = this.services.stripe;
    const known = await this.orm.em.fork().findOne(BillingCustomer, { accountId });
    if (!known?.stripeCustomerId) throw new NotFoundError(`The billing customer of ${accountId}`);
    const stripeCustomerId = known.stripeCustomerId;
    const snapshot = await readStripeAccount(stripe.stripe, stripeCustomerId);

    const summary = await this.orm.em.fork().transactional(async (tx) => {
      const observedAt = new Date();
      const customer = await tx.findOneOrFail(
        BillingCustomer,
        { accountId },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (customer.stripeCustomerId !== stripeCustomerId) {
        // Relinked while we were reading: what we read is about another customer.
        throw new BillingError(
          ErrorCode.CONFLICT,
          'The account changed its Stripe customer during the resync; try again',
        );
      }
      if (snapshot.customer.deleted) {
        customer.deletedAt ??= observedAt;
      } else {
        stripe.customers.applyStripeCustomer(customer, snapshot.customer);
        customer.stripeUpdatedAt = observedAt;
      }
      await tx.flush();
      // Oldest first, so the newest subscription is the one written last.
      for (const subscription of [...snapshot.subscriptions].reverse()) {
        await stripe.subscriptionSync.apply(tx, customer, subscription, observedAt);
      }
      for (const invoice of snapshot.invoices)
        await this.services.invoices.apply(tx, customer, invoice, observedAt);
      for (const paymentMethod of snapshot.paymentMethods) {
        await this.services.paymentMethods.apply(
          tx,
          customer,
          paymentMethod,
          snapshot.defaultPaymentMethodId,
          observedAt,
        );
      }
      if (snapshot.paymentMethodsComplete) {
        await tx.nativeDelete(PaymentMethod, {
          accountId,
          stripePaymentMethodId: { $nin: snapshot.paymentMethods.map((paymentMethod) => paymentMethod.id) },
        });
      }
      const plan = await this.services.provisioner.provision(tx, accountId, observedAt);
      return {
        accountId,
        subscriptions: snapshot.subscriptions.length,
        invoices: snapshot.invoices.length,
        paymentMethods: snapshot.paymentMethods.length,
        planKey: plan.key,
      };
    });
    await this.services.events.accountUpdated(accountId, 'resync');
    this.logger.info({ resync: summary }, 'resynced an account from Stripe');
    return summary;
  }

  /**
   * Past-due subscriptions whose grace period is over: their accounts' entitlements are provisioned again
   * (which now gives the free plan) and, where that changed them, subscribers are told. Returns those accounts.
   */
  async sweepGracePeriods(now = new Date()): Promise<string[]> {
    const moved: string[] = [];
    // Keyset pages over every past-due subscription: ones moved to free earlier stay past due in Stripe for a
    // while and must not crowd out those whose grace period just ended.
    let afterId: string | null = null;
    while (!this.stopping) {
      const batch: Subscription[] = await this.orm.em.fork().find(
        Subscription,
        {
          status: { $in: ['past_due', 'unpaid'] },
          pastDueSince: { $ne: null },
          ...(afterId ? { id: { $gt: afterId } } : {}),
        },
        { orderBy: { id: 'asc' }, limit: SWEEP_BATCH },
      );
      for (const candidate of batch) {
        if (this.stopping) break;
        const endsAt = this.services.provisioner.graceEndsAt(candidate);
        if (!endsAt || endsAt > now) continue;
        if (await this.endGracePeriod(candidate.id, now)) {
          moved.push(candidate.accountId);
          await this.services.events.accountUpdated(candidate.accountId, 'grace_period_ended');
        }
      }
      if (batch.length < SWEEP_BATCH) break;
      afterId = batch[batch.length - 1].id;
    }
    if (moved.length > 0)
      this.logger.info({ accounts: moved }, 'grace period over: accounts moved to the free plan');
    return moved;
  }

  /** Provisions the account of a subscription whose grace period is over; true if its entitlements changed. */
  private endGracePeriod(subscriptionId: string, now: Date): Promise<boolean> {
    return this.orm.em.fork().transactional(async (tx) => {
      // The row lock orders this after (or before) a webhook changing the same subscription, so a payment that
      // just arrived is never overwritten with the free plan.
      const subscription = await tx.findOne(
        Subscription,
        { id: subscriptionId },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!subscription || (subscription.status !== 'past_due' && subscription.status !== 'unpaid'))
        return false;
      // Copied out: provisioning updates these very entities in place.
      const before = entitlementValues(await tx.find(Entitlement, { accountId: subscription.accountId }));
      const plan = await this.services.provisioner.provision(tx, subscription.accountId, now);
      return !sameEntitlements(before, entitlementsOf(plan));
    });
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.runScheduled()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error({ err: error }, 'reconciliation run failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopping) this.schedule();
        });
    }, this.settings.intervalMs);
    // The job never keeps the process alive on its own.
    this.timer.unref();
  }

  private async tryProcess(event: Stripe.Event): Promise<ProcessingOutcome | { error: string }> {
    try {
      return await this.processor.process(event, 'reconciler');
    } catch (error) {
      // The processor already marked the inbox row failed and logged why.
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Inbox rows that failed, or were left received or processing by a crash, processed again. */
  private async retryInbox(summary: CatchUpSummary, alreadyAttempted: ReadonlySet<string>): Promise<void> {
    const statuses: WebhookEventStatus[] = ['failed', 'received', 'processing'];
    const rows = await this.orm.em
      .fork()
      .find(
        WebhookEvent,
        { status: { $in: statuses }, updatedAt: { $lt: new Date(Date.now() - STUCK_AFTER_MS) } },
        { orderBy: { stripeCreatedAt: 'asc' }, limit: RETRY_BATCH },
      );
    for (const row of rows) {
      if (this.stopping) return;
      if (alreadyAttempted.has(row.stripeEventId)) continue;
      const event = storedEvent(row);
      const result = event
        ? await this.tryProcess(event)
        : { error: 'the stored payload is not a Stripe event' };
      if (typeof result === 'string') {
        summary.retried += 1;
        count(summary, result);
      } else {
        summary.failed += 1;
        summary.failures.push({ eventId: row.stripeEventId, type: row.type, error: result.error });
      }
    }
  }

  /** Every handled event since `since` (a `created` second; null: all Stripe still has), oldest first. */
  private async listEventsSince(
    since: number | null,
  ): Promise<{ events: Stripe.Event[]; complete: boolean }> {
    const stripe = this.services.stripe.stripe;
    const listing = await listAll(
      (startingAfter) =>
        stripe.call('events.list', (sdk) =>
          sdk.events.list({
            types: HANDLED_EVENT_TYPES,
            limit: 100,
            starting_after: startingAfter,
            ...(since === null ? {} : { created: { gte: since } }),
          }),
        ),
      MAX_EVENT_PAGES,
    );
    // Stripe lists newest first; reversed, the order within one second is kept, and the sort (stable) only
    // has to put the seconds in order.
    const events = listing.items.reverse().sort((a, b) => a.created - b.created);
    return { events, complete: listing.complete };
  }

  private async readCursor(): Promise<number | null> {
    const row = await this.orm.em.fork().findOne(SyncCursor, { name: EVENTS_CURSOR });
    const value = row ? Number.parseInt(row.value, 10) : Number.NaN;
    return Number.isFinite(value) ? value : null;
  }

  /** The cursor only ever moves forward, so two runs at once (the script and the job) cannot move it back. */
  private async advanceCursor(created: number): Promise<void> {
    await this.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into sync_cursor (name, value, updated_at) values (?, ?, now())
         on conflict (name) do update set value = excluded.value, updated_at = now()
         where sync_cursor.value::bigint < excluded.value::bigint`,
        [EVENTS_CURSOR, String(created)],
      );
  }
}

function count(summary: CatchUpSummary, outcome: ProcessingOutcome): void {
  if (outcome === 'processed') summary.processed += 1;
  else if (outcome === 'duplicate') summary.duplicates += 1;
  else summary.ignored += 1;
}

/** The event as the inbox stored it (the whole JSON Stripe sent), or null if the row holds something else. */
function storedEvent(row: WebhookEvent): Stripe.Event | null {
  const payload = row.payload as Partial<Stripe.Event>;
  if (payload.id !== row.stripeEventId || typeof payload.type !== 'string' || !payload.data?.object)
    return null;
  return payload as Stripe.Event;
}

interface EntitlementValue {
  featureKey: string;
  enabled: boolean;
  limit: number | null;
}

function entitlementValues(rows: readonly Entitlement[]): EntitlementValue[] {
  return rows.map((row) => ({
    featureKey: row.featureKey,
    enabled: row.enabled,
    limit: row.limit === null ? null : Number(row.limit),
  }));
}

function sameEntitlements(before: readonly EntitlementValue[], after: readonly EntitlementValue[]): boolean {
  if (before.length !== after.length) return false;
  const byKey = new Map(before.map((value) => [value.featureKey, value]));
  return after.every((wanted) => {
    const had = byKey.get(wanted.featureKey);
    return had !== undefined && had.enabled === wanted.enabled && had.limit === wanted.limit;
  });
}

/** The reconciler's settings from the service's configuration. */
export function reconcilerSettings(config: Config): ReconcilerSettings {
  return { databaseUrl: config.database.url, intervalMs: config.billing.reconcileIntervalMs };
}
