import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Account } from '../schema/account.type';
import { LowBalanceAlert, SetLowBalanceAlertInput } from '../schema/low-balance-alert.type';
import type { IncludedCredits } from '../services/credits/included-credits';
import type { LowBalanceAlerts } from '../services/credits/low-balance-alerts';

/** An account's low-balance mail: its threshold, and setting it (the caller's own account). */
@Resolver(() => Account)
export class LowBalanceAlertResolver {
  constructor(
    private readonly alerts: LowBalanceAlerts,
    private readonly included: IncludedCredits,
  ) {}

  @FieldResolver(() => LowBalanceAlert, {
    description:
      'The low-balance mail: below how many available credits the customer is mailed (by default 20 % of the plan’s included credits)',
  })
  async lowBalanceAlert(@Root() account: Account, @Ctx() context: RequestContext): Promise<LowBalanceAlert> {
    context.requireAccountAccess(account.id);
    // The default is a share of the current period's included credits, granted lazily: open the period first.
    await this.included.ensure(account.id);
    return this.alerts.viewOf(account.id);
  }

  @Mutation(() => LowBalanceAlert, {
    description:
      'Sets the threshold of the low-balance mail (null or 0 turns it off): below it, one mail per crossing. None while automatic top-up is on at or above it',
  })
  async setLowBalanceAlert(
    @Arg('input', () => SetLowBalanceAlertInput) input: SetLowBalanceAlertInput,
    @Ctx() context: RequestContext,
  ): Promise<LowBalanceAlert> {
    const accountId = context.requireCaller().accountId;
    await this.included.ensure(accountId);
    return this.alerts.set(accountId, input.belowCredits ?? null);
  }
}
