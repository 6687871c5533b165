import { raw } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Notification } from '../../entities/notification.entity';
import { type Logger, silentLogger } from '../../logging/logger';
import { dedupeKeyOf, type NotificationMessageInput, parseNotificationMessage } from './messages';

/** A mail to send: to whom, about which account, and what (see `NotificationMessageInput`). */
export type NotificationRequest = NotificationMessageInput & {
  accountId: string;
  /** The account's billing email (the Stripe customer's); null or empty skips the mail. */
  recipient: string | null;
};

/**
 * `queued`: a new outbox row; `duplicate`: a mail for the same fact was already queued (nothing written);
 * `no_recipient`: the account has no email to write to (nothing written).
 */
export type EnqueueResult = 'queued' | 'duplicate' | 'no_recipient';

/**
 * Writes notification mails to the outbox. The row is part of the caller's transaction, so the mail exists if
 * and only if the change it tells about committed; `MailWorker` sends it afterwards.
 */
export class Notifier {
  constructor(private readonly logger: Logger = silentLogger) {}

  /**
   * Adds the mail to the outbox inside `em`'s open transaction (one INSERT, no flush). A mail with the same
   * dedupe key (see `dedupeKeyOf`) is silently dropped, so a webhook processed twice, or by two instances
   * at once, queues one mail. Throws if `em` is not in a transaction, or if the message does not fit its kind.
   */
  async enqueue(em: EntityManager, request: NotificationRequest): Promise<EnqueueResult> {
    if (!em.isInTransaction()) {
      throw new Error(
        "Notifier.enqueue must run inside the caller's transaction (em.transactional), so the mail commits or rolls back with the change it tells about",
      );
    }
    const message = parseNotificationMessage(request.kind, request.data);
    const dedupeKey = dedupeKeyOf(request.accountId, message, request.recipient ?? '');
    const recipient = request.recipient?.trim() ?? '';
    if (!recipient) {
      this.logger.warn(
        { accountId: request.accountId, kind: message.kind, dedupeKey },
        'notification skipped: no recipient email',
      );
      return 'no_recipient';
    }
    const now = new Date();
    const result = await em
      .createQueryBuilder(Notification)
      .insert({
        id: crypto.randomUUID(),
        createdAt: now,
        updatedAt: now,
        accountId: request.accountId,
        kind: message.kind,
        recipient,
        // Dates become ISO strings in JSON; the worker checks the data against the same schema when it reads it.
        data: { ...message.data },
        dedupeKey,
        status: 'pending',
        attempts: 0,
        // The database's clock, as the mail worker compares with it: a skew between hosts never delays a mail.
        nextAttemptAt: raw('now()'),
        lastError: null,
        sentAt: null,
      })
      .onConflict('dedupeKey')
      .ignore()
      .execute('run');
    const queued = result.affectedRows > 0;
    this.logger.debug(
      { accountId: request.accountId, kind: message.kind, dedupeKey, queued },
      'notification enqueued',
    );
    return queued ? 'queued' : 'duplicate';
  }
}
