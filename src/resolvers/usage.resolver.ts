import { Arg, Ctx, Resolver, Root, Subscription } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Topic, type UsageUpdatedPayload } from '../pubsub/topics';
import { UsageSummary } from '../schema/entitlement.type';

@Resolver(() => UsageSummary)
export class UsageResolver {
  @Subscription(() => UsageSummary, {
    description: "The caller's usage of a metric (or of every metric) as it changes",
    topics: Topic.USAGE_UPDATED,
    // The account's own channel: nobody else's usage ever reaches this subscriber.
    topicId: ({ context }) => (context as RequestContext).requireCaller().accountId,
    filter: ({ payload, args }) => !args.metric || (payload as UsageUpdatedPayload).metric === args.metric,
  })
  usageUpdated(
    @Root() payload: UsageUpdatedPayload,
    @Ctx() context: RequestContext,
    @Arg('metric', () => String, { nullable: true, description: 'Only this metric, e.g. ai_requests' })
    _metric?: string,
  ): UsageSummary {
    context.startNextEvent();
    return payload;
  }
}
