import { BillingError, ErrorCode, NotFoundError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { InboxEntry, InboxReads } from '../inbox/inbox-reads';
import type { WebhookInbox } from '../inbox/webhook-inbox';
import type { WebhookProcessor } from '../pipeline/webhook-processor';
import { processQuietly } from './catch-up';

/**
 * Processes a stored event again even if it was processed (a forced replay), a dead one too: its row goes back
 * to `received`, then through the pipeline. Safe because every handler re-reads its object from Stripe. A
 * failure is recorded on the row (failed, or dead again past the retry policy) rather than thrown; the row is
 * returned after.
 */
export class EventReplay {
  constructor(
    private readonly processor: WebhookProcessor,
    private readonly inbox: WebhookInbox,
    private readonly inboxReads: InboxReads,
    private readonly logger: Logger,
  ) {}

  async run(stripeEventId: string): Promise<InboxEntry> {
    const stored = await this.inboxReads.find(stripeEventId);
    if (!stored) throw new NotFoundError(`The webhook event ${stripeEventId}`);
    if (!stored.event)
      throw new BillingError(
        ErrorCode.CONFLICT,
        stored.pruned
          ? `The payload of ${stripeEventId} was dropped by the retention (WEBHOOK_PAYLOAD_RETENTION_DAYS): resync its account instead`
          : `The stored payload of ${stripeEventId} is not a Stripe event`,
      );
    await this.inbox.reopen(stripeEventId);
    const result = await processQuietly(this.processor, stored.event);
    if (typeof result !== 'string')
      this.logger.warn({ eventId: stripeEventId, reason: result.error }, 'replay failed');
    const after = await this.inboxReads.find(stripeEventId);
    if (!after) throw new NotFoundError(`The webhook event ${stripeEventId}`);
    return after.entry;
  }
}
