import { LockMode } from '@mikro-orm/core';
import type Stripe from 'stripe';
import type { Config } from '../config';
import type { Orm } from '../database/database';
import { BillingCustomer, Entitlement, PaymentMethod, Subscription, SyncCursor } from '../entities';
import { BillingError, ErrorCode, NotFoundError } from '../errors';
import { HANDLED_EVENT_TYPES } from '../webhooks/handlers';
import { UNREADABLE_PAYLOAD, WebhookInbox } from '../webhooks/inbox/webhook-inbox';
import { InboxReads, type InboxEntry } from '../webhooks/inbox/inbox-reads';
import type { ProcessingOutcome, WebhookProcessor } from '../webhooks/pipeline/webhook-processor';
import type { AccountEvents } from './account-events';
import type { Clock } from './clock';
import type { CustomerManager } from './customer-manager';
import type { FeatureProvisioner } from './feature-provisioner';
import type { InvoiceSync } from './invoices/invoice-sync';
import type { PaymentMethodSync } from './invoices/payment-method-sync';
import type { StripeClient } from './stripe/stripe-client';
import type { SubscriptionSync } from './subscriptions/subscription-sync';
import { entitlementsOf } from './feature-provisioner';
import type { Logger } from '../logging/logger';
import { readStripeAccount } from './reconcile-account';
import { ReconcileLock } from './reconcile-lock';

/**
 * The `sync_cursor` row holding where the walk over Stripe's events stands: `"<created> <event id>"` of the last
 * event it got past (older rows hold only the `created` second; the walk then finds its place by time).
 */
export const EVENTS_CURSOR = 'stripe_events';
/** Finding the place by time: the listing starts this much before the cursor's second, the inbox drops repeats. */
const CURSOR_OVERLAP_SECONDS = 1;
/** Past-due subscriptions read per page of the sweep. */
const SWEEP_BATCH = 500;

/** How much one run does; the defaults are for production, tests make them small. */
export interface ReconcilerLimits {
  /** Events asked for per page of `GET /v1/events` (Stripe allows 1–100). */
  eventPageSize: number;
  /** Pages of events one run processes; a larger backlog is continued by the next run, from the cursor. */
  maxEventPages: number;
  /** Inbox rows retried per run (those due longest ago first); the rest wait for the next run. */
  retryBatchSize: number;
  /**
   * Pages read to find the oldest event when there is no cursor event to walk from (the first run, or the
   * cursor's event is older than Stripe keeps): past this the run fails rather than skip the oldest events.
   */
  maxSeekPages: number;
}

const DEFAULT_LIMITS: ReconcilerLimits = {
  eventPageSize: 100,
  maxEventPages: 1000,
  retryBatchSize: 100,
  maxSeekPages: 10_000,
};

/** The last Stripe event the walk got past: its `created` second and id (null for a cursor from before ids). */
export interface EventsCursor {
  created: number;
  eventId: string | null;
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

/** One page of Stripe's events, oldest first, and whether Stripe may hold newer ones after it. */
interface EventPage {
  events: Stripe.Event[];
  newerMayFollow: boolean;
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
  limits?: Partial<ReconcilerLimits>;
}

/** The services the reconciler applies what it reads from Stripe with. */
export interface ReconcilerServices {
  clock: Clock;
  events: AccountEvents;
  invoices: InvoiceSync;
  paymentMethods: PaymentMethodSync;
  provisioner: FeatureProvisioner;
  stripe: { stripe: StripeClient; customers: CustomerManager; subscriptionSync: SubscriptionSync };
}

/**
 * Makes sure nothing Stripe told us is lost even when its webhooks were: Stripe retries a failed delivery for
 * three days, but a service down longer (or an endpoint misconfigured) would miss events for good.
 *
 * - `catchUp()` walks Stripe's events forward from the last one it got past, page by page, and runs each through
 *   the same `WebhookProcessor` as the webhook endpoint (the inbox's unique event id makes that exactly once),
 *   oldest first; then it retries inbox rows whose next attempt is due (failed ones with back-off, stuck ones).
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
  private readonly limits: ReconcilerLimits;
  private readonly inbox: WebhookInbox;
  private readonly inboxReads: InboxReads;

  constructor(
    private readonly orm: Orm,
    private readonly processor: WebhookProcessor,
    private readonly services: ReconcilerServices,
    private readonly settings: ReconcilerSettings,
    private readonly logger: Logger,
  ) {
    this.lock = new ReconcileLock(settings.databaseUrl);
    this.limits = { ...DEFAULT_LIMITS, ...settings.limits };
    this.inbox = new WebhookInbox(orm, logger);
    this.inboxReads = new InboxReads(orm);
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
   * Walks Stripe's handled events forward from the cursor, oldest first, then retries inbox rows whose next
   * attempt is due. Once an event is in the inbox, whatever became of it, the cursor may pass it: a failed
   * event is retried from the inbox (with back-off, until the retry policy gives up on it), so one event that
   * always fails never holds back the events after it. The cursor moves page by page; a backlog larger than
   * `maxEventPages` pages is continued by the next run from where this one stopped.
   */
  async catchUp(): Promise<CatchUpSummary> {
    const start = await this.readCursor();
    const summary: CatchUpSummary = {
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
    const attempted = new Set<string>();
    const failed = await this.walkEvents(start, summary, attempted);
    await this.secondChance(failed, summary);
    if (!this.stopping) await this.retryInbox(summary, attempted);
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
    let page: EventPage | null = await this.firstPage(start);
    for (let pages = 1; page && page.events.length > 0; pages++) {
      const passed = await this.processPage(page.events, summary, attempted, failed);
      if (passed) {
        await this.advanceCursor({ created: passed.created, eventId: passed.id });
        summary.cursor = passed.created;
        summary.cursorEventId = passed.id;
      }
      if (!passed || passed !== page.events.at(-1) || this.stopping || !page.newerMayFollow) break;
      if (pages >= this.limits.maxEventPages) {
        summary.backlog = true;
        this.logger.info(
          { pages, cursor: passed.id },
          'more Stripe events than one run processes; the next run continues from the cursor',
        );
        break;
      }
      page = await this.newerPage(passed.id);
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
      if (this.stopping) break;
      attempted.add(event.id);
      summary.seen += 1;
      const result = await this.tryProcess(event);
      if (typeof result === 'string') {
        count(summary, result);
      } else {
        if ((await this.inboxStatus(event.id)) === null) {
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
      if (this.stopping) return;
      const result = await this.tryProcess(event);
      if (typeof result === 'string') count(summary, result);
      else await this.reportFailure(summary, event.id, event.type, result.error);
    }
  }

  /**
   * Processes a stored event again even if it was processed (a forced replay), a dead one too: its row goes back
   * to `received`, then through the processor. Safe because every handler re-reads its object from Stripe. A
   * failure is recorded on the row (failed, or dead again past the retry policy) rather than thrown; the row is
   * returned after.
   */
  async replay(stripeEventId: string): Promise<InboxEntry> {
    const stored = await this.inboxReads.find(stripeEventId);
    if (!stored) throw new NotFoundError(`The webhook event ${stripeEventId}`);
    if (!stored.event)
      throw new BillingError(
        ErrorCode.CONFLICT,
        `The stored payload of ${stripeEventId} is not a Stripe event`,
      );
    await this.inbox.reopen(stripeEventId);
    const result = await this.tryProcess(stored.event);
    if (typeof result !== 'string')
      this.logger.warn({ eventId: stripeEventId, reason: result.error }, 'replay failed');
    const after = await this.inboxReads.find(stripeEventId);
    if (!after) throw new NotFoundError(`The webhook event ${stripeEventId}`);
    return after.entry;
  }

  /**
   * Re-applies one account from Stripe: its customer record, all its subscriptions, its recent invoices and its
   * cards (a card no longer in Stripe is removed), then recomputes its entitlements. Stripe is read first; the
   * writes are one transaction; subscribers are told after the commit.
   *
   * What was read is stamped with the time the reading started (ADR 0005), and every write applies only over
   * state read earlier than that: a webhook that read Stripe after this started, and committed while this was
   * still reading, keeps its newer state.
   */
  async resyncAccount(accountId: string): Promise<ResyncSummary> {
    const stripe = this.services.stripe;
    const known = await this.orm.em.fork().findOne(BillingCustomer, { accountId });
    if (!known?.stripeCustomerId) throw new NotFoundError(`The billing customer of ${accountId}`);
    const stripeCustomerId = known.stripeCustomerId;
    const observedAt = this.services.clock.now();
    const snapshot = await readStripeAccount(stripe.stripe, stripeCustomerId);

    const summary = await this.orm.em.fork().transactional(async (tx) => {
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
      } else if (!(customer.stripeUpdatedAt && customer.stripeUpdatedAt > observedAt)) {
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
        // Only cards we last read before this resync did: one attached since is not in the list we read.
        await tx.nativeDelete(PaymentMethod, {
          accountId,
          stripePaymentMethodId: { $nin: snapshot.paymentMethods.map((paymentMethod) => paymentMethod.id) },
          stripeUpdatedAt: { $lte: observedAt },
        });
      }
      const plan = await this.services.provisioner.provision(tx, accountId, this.services.clock.now());
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
  async sweepGracePeriods(now = this.services.clock.now()): Promise<string[]> {
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

  /**
   * Inbox rows whose next attempt is due (failed ones after their back-off, ones left received or processing by
   * a crash), those due longest ago first. A row that fails again is due again only after a longer wait, so
   * rows that keep failing go to the back and never fill every run's batch; the policy ends with them dead.
   */
  private async retryInbox(summary: CatchUpSummary, alreadyAttempted: ReadonlySet<string>): Promise<void> {
    for (const due of await this.inboxReads.dueForRetry(this.limits.retryBatchSize)) {
      if (this.stopping) return;
      if (alreadyAttempted.has(due.stripeEventId)) continue;
      if (!due.event) {
        await this.inbox.buryUnreadable(due.rowId, due.stripeEventId);
        await this.reportFailure(summary, due.stripeEventId, due.type, UNREADABLE_PAYLOAD);
        continue;
      }
      const result = await this.tryProcess(due.event);
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
    const dead = (await this.inboxStatus(eventId)) === 'dead';
    summary.failed += 1;
    if (dead) summary.dead += 1;
    summary.failures.push({ eventId, type, error, dead });
  }

  private inboxStatus(stripeEventId: string) {
    return this.inboxReads.statusOf(stripeEventId);
  }

  /**
   * Where the walk begins: the page just newer than the cursor's event; without a cursor event (the first run, a
   * cursor from before ids were kept, or an event older than Stripe keeps), the oldest page since the cursor's
   * second (or of all Stripe keeps).
   */
  private async firstPage(cursor: EventsCursor | null): Promise<EventPage> {
    if (cursor?.eventId) {
      try {
        return await this.newerPage(cursor.eventId);
      } catch (error) {
        if (!isUnknownCursor(error)) throw error;
        // Stripe lists events "going back up to 30 days" (the SDK's events.list): an outage longer than that.
        this.logger.warn(
          { cursor: cursor.eventId },
          "the cursor's event is no longer in Stripe; finding the place by its time instead",
        );
      }
    }
    return this.oldestPage(cursor === null ? null : cursor.created - CURSOR_OVERLAP_SECONDS);
  }

  /**
   * The events immediately newer than `eventId`. Stripe's `ending_before` answers the page just before the named
   * object in its newest-first order, still newest first, and `has_more` when there are newer ones still
   * (https://docs.stripe.com/api/pagination; the SDK's auto-pagination walks `ending_before` by `data[0]`).
   */
  private async newerPage(eventId: string): Promise<EventPage> {
    const page = await this.listEvents({ ending_before: eventId });
    return { events: [...page.data].reverse(), newerMayFollow: page.has_more };
  }

  /**
   * The oldest page of events created at or after `since` (null: all Stripe keeps). Stripe lists newest first
   * and only `starting_after` goes back in time, so this pages to the end keeping the last page only. Events
   * created meanwhile are newer: the walk reaches them with `ending_before` from this page.
   */
  private async oldestPage(since: number | null): Promise<EventPage> {
    const created = since === null ? {} : { created: { gte: since } };
    let page = await this.listEvents(created);
    for (let pages = 1; page.has_more; pages++) {
      if (pages >= this.limits.maxSeekPages) {
        throw new Error(
          `more than ${pages} pages of Stripe events since the cursor: set sync_cursor '${EVENTS_CURSOR}' by hand`,
        );
      }
      const last = page.data.at(-1);
      if (!last || this.stopping) break;
      page = await this.listEvents({ ...created, starting_after: last.id });
    }
    return { events: [...page.data].reverse(), newerMayFollow: true };
  }

  private listEvents(position: Stripe.EventListParams): Promise<Stripe.ApiList<Stripe.Event>> {
    const stripe = this.services.stripe.stripe;
    return stripe.call('events.list', (sdk) =>
      sdk.events.list({ types: HANDLED_EVENT_TYPES, limit: this.limits.eventPageSize, ...position }),
    );
  }

  private async readCursor(): Promise<EventsCursor | null> {
    const row = await this.orm.em.fork().findOne(SyncCursor, { name: EVENTS_CURSOR });
    return row ? parseCursor(row.value) : null;
  }

  /**
   * The cursor only ever moves forward in time, so two runs at once (the script and the job) cannot move it
   * back past a second the other got past. Within one second either may win: the loser's events are listed
   * again and the inbox drops them.
   */
  private async advanceCursor(cursor: EventsCursor): Promise<void> {
    await this.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into sync_cursor (name, value, updated_at) values (?, ?, now())
         on conflict (name) do update set value = excluded.value, updated_at = now()
         where split_part(sync_cursor.value, ' ', 1)::bigint <= split_part(excluded.value, ' ', 1)::bigint`,
        [EVENTS_CURSOR, formatCursor(cursor)],
      );
  }
}

function formatCursor(cursor: EventsCursor): string {
  return cursor.eventId ? `${cursor.created} ${cursor.eventId}` : String(cursor.created);
}

function parseCursor(value: string): EventsCursor | null {
  const [created, eventId] = value.split(' ');
  const seconds = Number.parseInt(created ?? '', 10);
  if (!Number.isFinite(seconds)) return null;
  return { created: seconds, eventId: eventId || null };
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

function count(summary: CatchUpSummary, outcome: ProcessingOutcome): void {
  if (outcome === 'processed') summary.processed += 1;
  else if (outcome === 'duplicate') summary.duplicates += 1;
  else summary.ignored += 1;
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
