import { createHash } from 'node:crypto';
import type { EntityManager, QueryResult } from '@mikro-orm/postgresql';
import { Notification } from '../../entities/notification.entity';
import type { Logger } from '../../logging/logger';
import { MailDeliveryError, type MailTransport, type OutgoingMail } from './mail-transport';
import { InvalidNotificationError, parseNotificationMessage } from './messages';
import { renderNotification } from './templates';

export interface MailWorkerOptions {
  /** The root EntityManager (`orm.em`); the worker forks its own. */
  em: EntityManager;
  transport: MailTransport;
  logger: Logger;
  /** Sender of every mail (`MAIL_FROM`); its domain also names the Message-IDs. */
  from: string;
  /** Pause between polls when nothing is due (`MAIL_WORKER_INTERVAL_MS`). Default 1000. */
  intervalMs?: number;
  /** Attempts before a mail is given up as `failed`. Default 12 (with the defaults below, about 6 hours). */
  maxAttempts?: number;
  /** Wait after the first failure; doubled after each further one, up to `retryMaxMs`. Default 60 s. */
  retryBaseMs?: number;
  /** Longest wait between two attempts. Default 1 hour. */
  retryMaxMs?: number;
  /**
   * How long a claimed mail stays reserved for the worker that claimed it. A worker that dies mid-send leaves
   * the row `sending`; once the lease ends any worker takes it again. Must exceed the transport's own timeouts
   * (SMTP: at most 90 s), or a slow but live send could be repeated. Default 5 minutes.
   */
  leaseMs?: number;
  /** Most mails one `runOnce` sends, so one pass cannot run unbounded. Default 100. */
  maxPerRun?: number;
}

type ClaimedRow = Record<string, unknown>;

/**
 * Sends the outbox. Each mail is claimed with `SELECT … FOR UPDATE SKIP LOCKED` in a single UPDATE that marks
 * it `sending` with a lease, then sent with no transaction open, then marked `sent`, or put back `pending`
 * with an exponential back-off, or `failed` after `maxAttempts` (or at once when the server refused it for
 * good). Any number of workers, in any number of instances, share the outbox without sending a row twice.
 *
 * The one repeat that remains is inherent to SMTP: a worker that dies after the server accepted a mail but
 * before it recorded `sent` leaves the row `sending`; when the lease ends the mail is sent again (at least once,
 * never lost). Both copies carry the same Message-ID, derived from the dedupe key, so mail clients and servers
 * that collapse duplicates by Message-ID show one.
 */
export class MailWorker {
  private readonly em: EntityManager;
  private readonly transport: MailTransport;
  private readonly logger: Logger;
  private readonly from: string;
  private readonly messageIdDomain: string;
  private readonly intervalMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly leaseMs: number;
  private readonly maxPerRun: number;

  private loop: Promise<void> | null = null;
  private stopRequested = false;
  private wake: (() => void) | null = null;

  constructor(options: MailWorkerOptions) {
    this.em = options.em;
    this.transport = options.transport;
    this.logger = options.logger;
    this.from = options.from;
    this.messageIdDomain = domainOf(options.from);
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxAttempts = options.maxAttempts ?? 12;
    this.retryBaseMs = options.retryBaseMs ?? 60_000;
    this.retryMaxMs = options.retryMaxMs ?? 3_600_000;
    this.leaseMs = options.leaseMs ?? 300_000;
    this.maxPerRun = options.maxPerRun ?? 100;
  }

  /** Starts polling every `intervalMs` (at once again after a full pass). Calling it twice does nothing. */
  start(): void {
    if (this.loop) return;
    this.stopRequested = false;
    this.loop = this.poll();
  }

  /**
   * Graceful: no new mail is claimed; the mail in flight is finished and recorded before this resolves. A stopped
   * worker stays stopped (`runOnce` then handles nothing) until `start()`. Does not close the transport.
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  /**
   * Sends every due mail, one at a time, until none is due, `maxPerRun` were handled or `stop()` was called.
   * Returns how many mails it handled (sent, rescheduled or failed).
   */
  async runOnce(): Promise<number> {
    const em = this.em.fork();
    await this.failAbandoned(em);
    let handled = 0;
    while (handled < this.maxPerRun && !this.stopRequested) {
      const notification = await this.claim(em);
      if (!notification) break;
      await this.deliver(em, notification);
      handled++;
    }
    return handled;
  }

  /** The Message-ID of a notification's mail: the same for every attempt, so duplicates are recognisable. */
  messageIdOf(dedupeKey: string): string {
    return `<notification.${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 40)}@${this.messageIdDomain}>`;
  }

  private async poll(): Promise<void> {
    while (!this.stopRequested) {
      let handled = 0;
      try {
        handled = await this.runOnce();
      } catch (error) {
        this.logger.error({ err: error }, 'mail worker pass failed; trying again at the next poll');
      }
      if (this.stopRequested) break;
      if (handled < this.maxPerRun) await this.sleep(this.intervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  /**
   * A mail whose lease ended after its last allowed attempt: its worker died mid-send every time (a mail that
   * crashes the sender must not loop forever). Given up as `failed`.
   */
  private async failAbandoned(em: EntityManager): Promise<void> {
    await em.execute<QueryResult>(
      `update "notification" set "status" = 'failed', "last_error" = ?, "updated_at" = now()
       where "status" = 'sending' and "next_attempt_at" <= now() and "attempts" >= ?`,
      [`abandoned: the worker stopped mid-send on each of ${this.maxAttempts} attempts`, this.maxAttempts],
      'run',
    );
  }

  /**
   * Claims the most overdue mail: pending and due, or `sending` with an expired lease. One statement, so the
   * claim commits at once and no transaction stays open across the SMTP conversation; SKIP LOCKED lets
   * concurrent workers pass over a row another is claiming instead of waiting for it (and the re-check of the
   * lease after the lock keeps them from claiming it twice).
   */
  private async claim(em: EntityManager): Promise<Notification | null> {
    const rows = await em.execute<ClaimedRow[]>(
      `update "notification"
          set "status" = 'sending', "attempts" = "attempts" + 1,
              "next_attempt_at" = now() + ? * interval '1 millisecond', "updated_at" = now()
        where "id" = (
          select "id" from "notification"
           where "status" in ('pending', 'sending') and "next_attempt_at" <= now()
           order by "next_attempt_at"
           limit 1
           for update skip locked)
       returning *`,
      [this.leaseMs],
      'all',
    );
    const row = rows[0];
    return row ? em.map(Notification, row) : null;
  }

  private async deliver(em: EntityManager, notification: Notification): Promise<void> {
    const context = {
      notificationId: notification.id,
      kind: notification.kind,
      dedupeKey: notification.dedupeKey,
      attempt: notification.attempts,
    };
    try {
      await this.transport.send(this.compose(notification));
    } catch (error) {
      await this.recordFailure(em, notification, error, context);
      return;
    }
    const marked = await em.execute<QueryResult>(
      `update "notification" set "status" = 'sent', "sent_at" = now(), "last_error" = null, "updated_at" = now()
        where "id" = ? and "status" = 'sending' and "attempts" = ?`,
      [notification.id, notification.attempts],
      'run',
    );
    if (marked.affectedRows === 0) {
      // Our lease ran out mid-send and another worker claimed the mail: it may arrive twice (same Message-ID).
      this.logger.warn(context, 'mail sent after its lease ended; another worker may send it again');
      return;
    }
    this.logger.info(context, 'mail sent');
  }

  private compose(notification: Notification): OutgoingMail {
    const content = renderNotification(parseNotificationMessage(notification.kind, notification.data));
    return {
      from: this.from,
      to: notification.recipient,
      ...content,
      messageId: this.messageIdOf(notification.dedupeKey),
      // RFC 3834: an automatic mail, so vacation responders do not answer it.
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
    };
  }

  private async recordFailure(
    em: EntityManager,
    notification: Notification,
    error: unknown,
    context: Record<string, unknown>,
  ): Promise<void> {
    const permanent =
      error instanceof InvalidNotificationError || (error instanceof MailDeliveryError && error.permanent);
    const lastError = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(
      0,
      2000,
    );
    const giveUp = permanent || notification.attempts >= this.maxAttempts;
    const retryInMs = giveUp ? 0 : this.backoffMs(notification.attempts);
    await em.execute<QueryResult>(
      `update "notification"
          set "status" = ?, "last_error" = ?, "next_attempt_at" = now() + ? * interval '1 millisecond',
              "updated_at" = now()
        where "id" = ? and "status" = 'sending' and "attempts" = ?`,
      [giveUp ? 'failed' : 'pending', lastError, retryInMs, notification.id, notification.attempts],
      'run',
    );
    if (giveUp) {
      this.logger.error({ ...context, permanent, error: lastError }, 'mail failed for good');
    } else {
      this.logger.warn({ ...context, retryInMs, error: lastError }, 'mail failed; will retry');
    }
  }

  /** After attempt n (1-based) wait base·2^(n−1), at most `retryMaxMs`. */
  backoffMs(attempt: number): number {
    return Math.min(this.retryBaseMs * 2 ** Math.max(0, attempt - 1), this.retryMaxMs);
  }
}

/** The domain of `Name <user@domain>` or `user@domain`; Message-IDs are named after it. */
function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from.trim());
  return match?.[1] ?? 'coditect.ai';
}
