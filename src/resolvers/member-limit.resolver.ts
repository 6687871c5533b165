import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root } from 'type-graphql';
import { BadUserInputError, ForbiddenError } from '../errors';
import type { RequestContext } from '../graphql/context';
import { Account } from '../schema/account.type';
import {
  MemberCreditUsage,
  MemberCreditUsageConnection,
  SetMemberLimitInput,
} from '../schema/member-limit.type';
import type { MemberLimits } from '../services/credits/member-limits';
import { encodeCursor, pageSize } from './pagination';

/** Members' monthly credit limits: set by the account's admins, each member's month for the account. */
@Resolver(() => Account)
export class MemberLimitResolver {
  constructor(private readonly limits: MemberLimits) {}

  @FieldResolver(() => MemberCreditUsageConnection, {
    description:
      'Per team member: the monthly credit limit, used and held this month, and what is left; members with a limit, use this month or work in progress',
  })
  async memberUsage(
    @Root() account: Account,
    @Ctx() context: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<MemberCreditUsageConnection> {
    context.requireAccountAccess(account.id);
    const page = await this.limits.page(account.id, pageSize(first), after ? memberIdOf(after) : null);
    const last = page.members.at(-1);
    return {
      nodes: page.members,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        endCursor: last ? encodeCursor({ member: last.memberId }) : null,
      },
    };
  }

  @Mutation(() => MemberCreditUsage, {
    description:
      'The account’s admins: sets a team member’s monthly credit limit (null removes it). A hold for the member past it is refused with MEMBER_LIMIT_REACHED. A calling service may not set it',
  })
  async setMemberLimit(
    @Arg('input', () => SetMemberLimitInput) input: SetMemberLimitInput,
    @Ctx() context: RequestContext,
  ): Promise<MemberCreditUsage> {
    const caller = context.requireCaller();
    // The calling service names members on reservations; the budget over them is the account's people's to set.
    if (caller.roles.has('service') && !caller.roles.has('admin'))
      throw new ForbiddenError('Members’ limits are set by the account’s admins, not by a calling service');
    // Naming another account is for admins (support acting for a customer), as every admin mutation does.
    if (input.accountId && input.accountId !== caller.accountId) context.requireRole('admin');
    const accountId = input.accountId ?? caller.accountId;
    const actor = `${caller.roles.has('admin') ? 'admin' : 'customer'}:${caller.accountId}`;
    return this.limits.set({
      accountId,
      memberId: input.memberId,
      monthlyCredits: input.monthlyCredits ?? null,
      actor,
    });
  }
}

/** A cursor `memberUsage` returned: the member id of the page's last node. */
function memberIdOf(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { member?: unknown };
    if (typeof value.member === 'string' && value.member.length > 0) return value.member;
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('after is not a cursor this API returned', 'after');
}
