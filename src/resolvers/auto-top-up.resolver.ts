import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Account } from '../schema/account.type';
import { AutoTopUp, SetAutoTopUpInput } from '../schema/auto-top-up.type';
import type { AutoTopUps } from '../services/credits/auto-top-up';
import { stripeRequired } from './stripe-required';

/** An account's automatic top-up of credits: what is set, and setting it (the caller's own account). */
@Resolver(() => Account)
export class AutoTopUpResolver {
  constructor(private readonly autoTopUps: AutoTopUps | null) {}

  @FieldResolver(() => AutoTopUp, {
    nullable: true,
    description: 'Automatic top-up of credits; null if never set',
  })
  async autoTopUp(@Root() account: Account, @Ctx() context: RequestContext): Promise<AutoTopUp | null> {
    context.requireAccountAccess(account.id);
    return this.autoTopUps ? this.autoTopUps.settingsOf(account.id) : null;
  }

  @Mutation(() => AutoTopUp, {
    description:
      'Turns automatic top-up on or off: below `belowCredits` available credits, the pack is charged to the saved card, once per crossing; a decline turns it off and mails the customer',
  })
  async setAutoTopUp(
    @Arg('input', () => SetAutoTopUpInput) input: SetAutoTopUpInput,
    @Ctx() context: RequestContext,
  ): Promise<AutoTopUp> {
    const accountId = context.requireCaller().accountId;
    return stripeRequired(this.autoTopUps).configure(accountId, input);
  }
}
