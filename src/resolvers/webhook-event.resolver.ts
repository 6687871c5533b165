import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { WebhookEvent as WebhookEventRow } from '../entities';
import type { RequestContext } from '../graphql/context';
import { Account, accountOf } from '../schema/account.type';
import { WebhookEvent, WebhookEventConnection, WebhookEventStatus } from '../schema/webhook-event.type';
import type { Reconciler } from '../services/reconciler';
import { stripeRequired } from './stripe-required';
import { decodeCursor, encodeCursor, pageSize } from './pagination';

/** Admin operations on the webhook inbox and on reconciliation with Stripe. */
@Resolver(() => WebhookEvent)
export class WebhookEventResolver {
  constructor(private readonly reconciler: Reconciler | null) {}

  @Query(() => WebhookEventConnection, { description: 'Admin: the webhook inbox, newest first' })
  async webhookEvents(
    @Ctx() context: RequestContext,
    @Arg('status', () => WebhookEventStatus, { nullable: true }) status?: WebhookEventStatus,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<WebhookEventConnection> {
    context.requireRole('admin');
    return webhookEventsPage(context.em, status ?? null, pageSize(first), after ?? null);
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

/** One page of the inbox, newest first by arrival; the cursor is the last row's arrival time and id. */
async function webhookEventsPage(
  em: EntityManager,
  status: WebhookEventStatus | null,
  first: number,
  after: string | null,
): Promise<WebhookEventConnection> {
  const where: FilterQuery<WebhookEventRow> = status ? { status } : {};
  const cursor = after ? decodeCursor(after) : null;
  const filter: FilterQuery<WebhookEventRow> = cursor
    ? {
        $and: [
          where,
          {
            $or: [
              { receivedAt: { $lt: new Date(cursor.createdAtMs) } },
              { receivedAt: new Date(cursor.createdAtMs), id: { $lt: cursor.id } },
            ],
          },
        ],
      }
    : where;
  const rows = await em.find(WebhookEventRow, filter, {
    orderBy: [{ receivedAt: 'desc' }, { id: 'desc' }],
    limit: first + 1,
    // The payload can be large and is not part of the API.
    exclude: ['payload'],
  });
  const page = rows.slice(0, first);
  const last = page.at(-1);
  return {
    nodes: page.map(toWebhookEvent),
    pageInfo: {
      hasNextPage: rows.length > first,
      endCursor: last ? encodeCursor({ createdAtMs: last.receivedAt.getTime(), id: last.id }) : null,
    },
  };
}

function toWebhookEvent(row: Omit<WebhookEventRow, 'payload'>): WebhookEvent {
  return {
    id: row.stripeEventId,
    type: row.type,
    status: row.status as WebhookEventStatus,
    attempts: row.attempts,
    lastError: row.lastError,
    objectId: row.objectId,
    source: row.source,
    receivedAt: row.receivedAt,
    processedAt: row.processedAt,
    nextAttemptAt: row.nextAttemptAt,
  };
}
