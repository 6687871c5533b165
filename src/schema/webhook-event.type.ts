import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './invoice.type';

/** Where an event stands in the inbox. */
export enum WebhookEventStatus {
  RECEIVED = 'received',
  PROCESSING = 'processing',
  PROCESSED = 'processed',
  FAILED = 'failed',
  IGNORED = 'ignored',
  DEAD = 'dead',
}
registerEnumType(WebhookEventStatus, {
  name: 'WebhookEventStatus',
  description:
    'RECEIVED: stored, not processed yet; FAILED: will be retried (nextAttemptAt); IGNORED: a type we do not handle, or an event of a customer that is not ours; DEAD: failed 10 times or for 3 days, no longer retried automatically: fix the cause, then replayWebhookEvent',
});

@ObjectType({ description: 'A Stripe event in the webhook inbox' })
export class WebhookEvent {
  @Field(() => ID, { description: 'The Stripe event id (evt_…)' })
  id!: string;

  @Field(() => String, { description: 'The Stripe event type, e.g. invoice.paid' })
  type!: string;

  @Field(() => WebhookEventStatus)
  status!: WebhookEventStatus;

  @Field(() => Int, { description: 'How many times processing was tried' })
  attempts!: number;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed' })
  lastError!: string | null;

  @Field(() => String, { nullable: true, description: 'The id of the Stripe object the event is about' })
  objectId!: string | null;

  @Field(() => String, {
    description: 'webhook (delivered by Stripe) or reconciler (found by listing events)',
  })
  source!: string;

  @Field(() => Date)
  receivedAt!: Date;

  @Field(() => Date, { nullable: true })
  processedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the reconciler tries it again (back-off by attempts); null when nothing is to be retried (processed, ignored, dead)',
  })
  nextAttemptAt!: Date | null;
}

@ObjectType()
export class WebhookEventConnection {
  @Field(() => [WebhookEvent])
  nodes!: WebhookEvent[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
