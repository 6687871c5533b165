import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import { BadUserInputError } from '../errors';
import type { RequestContext } from '../graphql/context';
import { type BalanceUpdatedPayload, Topic } from '../pubsub/topics';
import { Account } from '../schema/account.type';
import {
  CreditBalance,
  CreditGrant,
  type CreditEntryKind,
  CreditLedgerConnection,
  GrantCreditsInput,
} from '../schema/credit.type';
import type { CreditLedger } from '../services/credits/credit-ledger';
import type { CreditBalanceView } from '../services/credits/credit-ledger.types';
import type { IncludedCredits } from '../services/credits/included-credits';
import { encodeCursor, pageSize } from './pagination';

/** An account's prepaid credits: the balance, its history, an admin's grant, and the balance live. */
@Resolver(() => Account)
export class CreditResolver {
  constructor(
    private readonly ledger: CreditLedger,
    private readonly included: IncludedCredits,
  ) {}

  @FieldResolver(() => CreditBalance, { description: 'Prepaid credits: what there is, held and available' })
  async balance(@Root() account: Account, @Ctx() context: RequestContext): Promise<CreditBalance> {
    context.requireAccountAccess(account.id);
    // The current period's included credits are part of the balance from its first moment (granted lazily).
    await this.included.ensure(account.id);
    return balanceOf(await this.ledger.balanceOf(account.id), account.id);
  }

  @FieldResolver(() => CreditLedgerConnection, { description: 'Every change of the credits, newest first' })
  async creditLedger(
    @Root() account: Account,
    @Ctx() context: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<CreditLedgerConnection> {
    context.requireAccountAccess(account.id);
    const page = await this.ledger.entries(account.id, pageSize(first), after ? entryIdOf(after) : null);
    const last = page.entries.at(-1);
    return {
      nodes: page.entries.map((entry) => ({
        ...entry,
        id: String(entry.id),
        kind: entry.kind as CreditEntryKind,
        sourceType: entry.source.type,
        sourceId: entry.source.id,
      })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ entry: last.id }) : null },
    };
  }

  @Mutation(() => CreditGrant, {
    description:
      'Admin: grants credits to an account (a promotional or goodwill grant), once per idempotency key',
  })
  async grantCredits(
    @Arg('input', () => GrantCreditsInput) input: GrantCreditsInput,
    @Ctx() context: RequestContext,
  ): Promise<CreditGrant> {
    const admin = context.requireRole('admin');
    const { lot, duplicate } = await this.ledger.grant({
      accountId: input.accountId,
      kind: 'grant',
      credits: input.credits,
      expiresAt: input.expiresAt ?? null,
      reason: input.reason,
      source: { type: 'admin', id: input.idempotencyKey },
      actor: `admin:${admin.accountId}`,
    });
    return { lotId: lot.id, credits: lot.credits, expiresAt: lot.expiresAt, duplicate };
  }

  @Subscription(() => CreditBalance, {
    description: "The caller's credits each time they change (a grant, a burn, a hold, an expiry)",
    topics: Topic.BALANCE_UPDATED,
    // The account's own channel: nobody else's balance ever reaches this subscriber.
    topicId: ({ context }) => (context as RequestContext).requireCaller().accountId,
  })
  balanceUpdated(@Root() payload: BalanceUpdatedPayload, @Ctx() context: RequestContext): CreditBalance {
    context.startNextEvent();
    return balanceOf(payload, payload.accountId);
  }
}

export function balanceOf(view: CreditBalanceView, accountId: string): CreditBalance {
  return {
    accountId,
    credits: view.balance,
    held: view.held,
    available: view.available,
    expiringSoon: view.expiringSoon,
  };
}

/** A cursor `creditLedger` returned: the id of the page's last entry. */
function entryIdOf(cursor: string): number {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { entry?: unknown };
    if (typeof value.entry === 'number' && Number.isSafeInteger(value.entry) && value.entry > 0)
      return value.entry;
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('after is not a cursor this API returned', 'after');
}
