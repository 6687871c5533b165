import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Account, accountOf } from '../schema/account.type';
import { WebhookEvent, WebhookEventConnection, WebhookEventStatus } from '../schema/webhook-event.type';
import type { Reconciler } from '../webhooks/reconciler/reconciler';
import type { InboxEntry, InboxReads } from '../webhooks/inbox/inbox-reads';
import { stripeRequired } from './stripe-required';
import { decodeCursor, encodeCursor, pageSize } from './pagination';

/** Admin operations on the webhook inbox and on reconciliation with Stripe. */
@Resolver(() => WebhookEvent)
export class WebhookEventResolver {
  constructor(
    private readonly inbox: InboxReads,
    private readonly reconciler: Reconciler | null,
  ) {}

  @Query(() => WebhookEventConnection, { description: 'Admin: the webhook inbox, newest first' })
  async webhookEvents(
    @Ctx() context: RequestContext,
    @Arg('status', () => WebhookEventStatus, { nullable: true }) status?: WebhookEventStatus,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<WebhookEventConnection> {
    context.requireRole('admin');
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after) : null;
    const position = cursor ? { receivedAtMs: cursor.createdAtMs, rowId: cursor.id } : null;
    const { entries, hasNextPage } = await this.inbox.page(status ?? null, size, position);
    const last = entries.at(-1);
    return {
      nodes: entries.map(toWebhookEvent),
      pageInfo: {
        hasNextPage,
        endCursor: last ? encodeCursor({ createdAtMs: last.receivedAt.getTime(), id: last.rowId }) : null,
      },
    };
  }

  @Mutation(() => WebhookEvent, {
    description:
      'Admin: processes a stored event again, even if it was processed (handlers re-read Stripe, so this is safe); the event after',
  })
  async replayWebhookEvent(
    @Arg('id', () => ID, { description: 'The Stripe event id (evt_…)' }) id: string,
    @Ctx() context: RequestContext,
  ): Promise<WebhookEvent> {
    context.requireRole('admin');
    return toWebhookEvent(await stripeRequired(this.reconciler).replay(id));
  }

  @Mutation(() => Account, {
    description:
      "Admin: re-reads an account's customer, subscriptions, invoices and cards from Stripe and stores them",
  })
  async resyncAccount(
    @Arg('accountId', () => ID) accountId: string,
    @Ctx() context: RequestContext,
  ): Promise<Account> {
    context.requireRole('admin');
    await stripeRequired(this.reconciler).resyncAccount(accountId);
    return accountOf(accountId);
  }
}

function toWebhookEvent(entry: InboxEntry): WebhookEvent {
  return {
    id: entry.stripeEventId,
    type: entry.type,
    status: entry.status as WebhookEventStatus,
    attempts: entry.attempts,
    lastError: entry.lastError,
    objectId: entry.objectId,
    source: entry.source,
    receivedAt: entry.receivedAt,
    processedAt: entry.processedAt,
    nextAttemptAt: entry.nextAttemptAt,
  };
}
