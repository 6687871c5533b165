import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { BadUserInputError, ForbiddenError } from '../errors';
import type { RequestContext } from '../graphql/context';
import { Account } from '../schema/account.type';
import { CreditBalance } from '../schema/credit.type';
import { SetSpendLimitInput, SpendLimit } from '../schema/spend-limit.type';
import type { SpendLimits, SpendLimitView } from '../services/credits/spend-limits';

/** The spend limit over overage and automatic top-ups: set by the account's people, read by its billing page. */
@Resolver(() => Account)
export class SpendLimitResolver {
  constructor(private readonly limits: SpendLimits) {}

  @FieldResolver(() => SpendLimit, {
    description: 'What the account may owe beyond its plan this usage period, and what it has spent',
  })
  async spendLimit(@Root() account: Account, @Ctx() context: RequestContext): Promise<SpendLimit> {
    context.requireAccountAccess(account.id);
    return spendLimitOf(await this.limits.viewOf(account.id));
  }

  @Mutation(() => SpendLimit, {
    description:
      'Sets the most the account may owe beyond its plan per usage period (AI credits billed as overage and automatic top-ups); null removes it. A call past it is refused with SPEND_LIMIT_REACHED. A calling service may not set it',
  })
  async setSpendLimit(
    @Arg('input', () => SetSpendLimitInput) input: SetSpendLimitInput,
    @Ctx() context: RequestContext,
  ): Promise<SpendLimit> {
    const caller = context.requireCaller();
    // A calling service spends the credits; how much may be owed is for the account's people to decide.
    if (caller.roles.has('service') && !caller.roles.has('admin'))
      throw new ForbiddenError('The spend limit is set by the account’s people, not by a calling service');
    if (input.accountId && input.accountId !== caller.accountId) context.requireRole('admin');
    // Left out is not "no limit": removing the limit is said with an explicit null.
    if (input.monthlyCents === undefined)
      throw new BadUserInputError(
        'monthlyCents is required: whole cents, or null to remove the limit',
        'monthlyCents',
      );
    const accountId = input.accountId ?? caller.accountId;
    return spendLimitOf(await this.limits.set({ accountId, monthlyCents: input.monthlyCents ?? null }));
  }
}

export function spendLimitOf(view: SpendLimitView): SpendLimit {
  return {
    monthlyCents: view.monthlyCents,
    currency: view.currency,
    spentCents: view.spentCents,
    remainingCents: view.monthlyCents === null ? null : Math.max(0, view.monthlyCents - view.spentCents),
    overageCredits: view.overageCredits,
    overageCents: view.overageCents,
    topUpCents: view.topUpCents,
    heldOverageCredits: view.heldOverageCredits,
    overageBilled: view.overageBilled,
    unitAmountDecimal: view.unitAmountDecimal,
    periodStart: view.period.start,
    periodEnd: view.period.end,
  };
}

/** The spend beside the balance, so `balanceUpdated` carries this period's spend against the limit too. */
@Resolver(() => CreditBalance)
export class BalanceSpendResolver {
  constructor(private readonly limits: SpendLimits) {}

  @FieldResolver(() => SpendLimit, {
    description: 'This usage period’s spend beyond the plan against the spend limit (read when asked for)',
  })
  async spend(@Root() balance: CreditBalance): Promise<SpendLimit> {
    return spendLimitOf(await this.limits.viewOf(balance.accountId));
  }
}
