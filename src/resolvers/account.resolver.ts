import { Arg, Ctx, ID, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { type AccountUpdatedPayload, Topic } from '../pubsub/topics';
import { Account, accountOf } from '../schema/account.type';

@Resolver(() => Account)
export class AccountResolver {
  @Query(() => Account, { description: "The caller's own account" })
  viewer(@Ctx() context: RequestContext): Account {
    return accountOf(context.requireCaller().accountId);
  }

  @Subscription(() => Account, {
    description: "Any billing change of the caller's account (an admin may name another account)",
    topics: Topic.ACCOUNT_UPDATED,
    // The channel is the account's own: a subscriber can never receive another account's events.
    topicId: ({ args, context }) => subscribedAccountId(context as RequestContext, args.accountId),
  })
  accountUpdated(
    @Root() payload: AccountUpdatedPayload,
    @Arg('accountId', () => ID, { nullable: true, description: 'Admin only: the account to follow' })
    _accountId?: string,
  ): Account {
    return accountOf(payload.accountId);
  }
}

function subscribedAccountId(context: RequestContext, requested: unknown): string {
  const caller = context.requireCaller();
  if (typeof requested !== 'string' || requested === caller.accountId) return caller.accountId;
  context.requireRole('admin');
  return requested;
}
