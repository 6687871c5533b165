import type { AuthenticatedCaller } from '../../auth/caller';
import { ForbiddenError } from '../../errors';
import type { UsageEvent } from './usage-validation';

/** One use as a caller sends it, over GraphQL (`RecordUsageInput`) or `POST /usage/batch`. */
export interface UsageInput {
  metric: string;
  quantity: number;
  idempotencyKey: string;
  accountId?: string | null;
  occurredAt?: Date | null;
}

/**
 * Whose usage it is: a user's own account only; the `service` role (the AI gateway) and admins name the account.
 * `trusted` callers' idempotency keys are their own; a user's are kept under `user:`. One rule for every way in
 * (the GraphQL resolver and the bulk route), so both scope a caller alike.
 */
export function usageAccountFor(
  caller: AuthenticatedCaller,
  named: string | null | undefined,
): { accountId: string; trusted: boolean } {
  let accountId = caller.accountId;
  const trusted = caller.roles.has('service') || caller.roles.has('admin');
  if (named && named !== caller.accountId) {
    if (!trusted) throw new ForbiddenError('This needs the service or admin role');
    accountId = named;
  }
  return { accountId, trusted };
}

/** A caller's use, scoped: its account (usageAccountFor) and its key in the caller's namespace. */
export function usageEventFor(caller: AuthenticatedCaller, input: UsageInput): UsageEvent {
  const { accountId, trusted } = usageAccountFor(caller, input.accountId);
  return {
    accountId,
    metric: input.metric,
    quantity: input.quantity,
    // A user's own keys live apart from the gateway's: a user who guessed the gateway's keys and recorded them
    // first could otherwise have the gateway's records of its real usage refused.
    idempotencyKey: trusted || !input.idempotencyKey ? input.idempotencyKey : `user:${input.idempotencyKey}`,
    occurredAt: input.occurredAt ?? null,
  };
}
