import { createHash, randomBytes } from 'node:crypto';
import { BadUserInputError, BillingError, ConflictError, ErrorCode, NotFoundError } from '../../errors';
import type { RateCard } from '../plans/rate-card';
import type { Clock } from '../time/clock';
import type { CreditLedger } from './credit-ledger';
import type { CreditHoldView } from './credit-ledger.types';
import type { IncludedCredits } from './included-credits';

/**
 * Who reserves or settles a model call: the calling service (the `service` role, or an admin), or a user for its own
 * account. A user settles only the reservations a user made: the gateway's holds on the user's account are the
 * gateway's to commit (else a user could commit them at 0 tokens, or release them, and the call would be free).
 */
export type TokenCaller = 'service' | 'user';

export interface TokenReserveRequest {
  accountId: string;
  /** Who reserves (default the calling service): a user's hold is marked so that only it is a user's to settle. */
  caller?: TokenCaller;
  /** A model of the rate card (plans.yaml `models:`); any other is refused, never priced at 0. */
  model: string;
  inputTokens: number;
  /** The most output the call may produce (its `max_tokens`): the estimate is priced on it. */
  maxOutputTokens: number;
  /** The team member the call is for, when the calling service names one (member limits check it). */
  memberId?: string | null;
  /** How long the hold lasts if neither committed nor released (default 300, at most 3,600). */
  ttlSeconds?: number | null;
  /** Reserving again with the same key answers the same reservation (a retried request). */
  idempotencyKey?: string | null;
}

export interface TokenReservation {
  id: string;
  accountId: string;
  model: string;
  /** Credits held: the estimate at the rate in effect now. */
  credits: number;
  expiresAt: Date;
  duplicate: boolean;
}

export interface TokenCommit {
  accountId: string;
  /** Who commits (default the calling service): a user commits only reservations a user made. */
  caller?: TokenCaller;
  reservationId: string;
  inputTokens: number;
  outputTokens: number;
}

export interface TokenCommitOutcome {
  /** What the call cost, at the rate in effect when it was reserved. */
  credits: number;
  /** Taken from the balance (the hold first). */
  burned: number;
  /** What the balance could not cover. */
  uncovered: number;
  /** Of `uncovered`, billed as overage (the rest was written off: past the spend limit, or a plan that blocks). */
  billed: number;
  /** Committed before: nothing more was burned. */
  duplicate: boolean;
}

const DEFAULT_TTL_SECONDS = 300;
const MAX_TTL_SECONDS = 3600;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A model call paid in credits (issue 17 item 3; docs/credits.md "A model call, reserved and committed"): the
 * estimate (input tokens and the most output) is priced through the rate card now and held in the ledger, with
 * the model and the moment; the commit prices the actual tokens at that same moment's rate and settles the hold;
 * a failed call releases it. The account's current period is opened first, so its included credits are there.
 */
export class TokenReservations {
  constructor(
    private readonly ledger: CreditLedger,
    private readonly rateCard: Pick<RateCard, 'quote'>,
    private readonly included: IncludedCredits,
    private readonly clock: Clock,
  ) {}

  async reserve(request: TokenReserveRequest): Promise<TokenReservation> {
    const ttlSeconds = request.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    validateReserve(request, ttlSeconds);
    const now = this.clock.now();
    const { credits } = this.rateCard.quote({
      model: request.model,
      inputTokens: request.inputTokens,
      outputTokens: request.maxOutputTokens,
      at: now,
    });
    const { overage } = await this.included.ensure(request.accountId);
    const result = await this.ledger.hold({
      accountId: request.accountId,
      memberId: request.memberId ?? null,
      credits,
      ttlSeconds,
      holdId: holdIdOf(request.accountId, request.idempotencyKey ?? null, request.caller ?? 'service'),
      model: request.model,
      pricedAt: now,
      maxOutputTokens: request.maxOutputTokens,
      overage,
    });
    if (!result.ok)
      throw result.reason === 'spend_limit' && overage
        ? spendLimitReached(result, overage.currency)
        : creditsExhausted(result.available, result.requested);
    const { hold } = result;
    if (result.duplicate && !this.isRetryOf(hold, request, now)) throw keyReused();
    return {
      id: hold.id,
      accountId: hold.accountId,
      model: hold.model ?? request.model,
      credits: hold.credits,
      expiresAt: hold.expiresAt,
      duplicate: result.duplicate,
    };
  }

  /**
   * Prices the actual tokens at the reservation's rate and burns them (the hold first); once per reservation. The
   * hold is read once, in the settle's transaction, and priced there.
   */
  async commit(input: TokenCommit): Promise<TokenCommitOutcome> {
    if (!settleable(input.reservationId, input.caller ?? 'service'))
      throw new NotFoundError('The reservation');
    const { overage, period } = await this.included.ensure(input.accountId);
    let credits = 0;
    const settled = await this.ledger.settlePriced({
      accountId: input.accountId,
      holdId: input.reservationId,
      price: (hold) => {
        credits = this.priceOf(hold, input);
        return credits;
      },
      overage,
      period,
    });
    if (settled.outcome !== 'settled')
      throw settled.outcome === 'unknown'
        ? new NotFoundError('The reservation')
        : new ConflictError('The reservation was released: reserve again for the work it was for');
    // A repeat answers what the first commit burned, priced from its own tokens: the first commit's figures.
    const firstCredits = settled.duplicate ? settled.burned + settled.uncovered : credits;
    return {
      credits: firstCredits,
      burned: settled.burned,
      uncovered: settled.uncovered,
      billed: settled.billed,
      duplicate: settled.duplicate,
    };
  }

  /**
   * The tokens at the rate in effect when the hold was priced; a hold that is not a model call's is unknown. More
   * output than reserved is refused (thrown in the settle's transaction, so nothing is written): the reservation is
   * what the balance, the spend limit and the member's limit admitted, and an overrun past them would be free.
   */
  private priceOf(hold: CreditHoldView, input: TokenCommit): number {
    if (!hold.model || !hold.pricedAt) throw new NotFoundError('The reservation');
    if (hold.maxOutputTokens !== null && input.outputTokens > hold.maxOutputTokens)
      throw reservationExceeded(hold.maxOutputTokens, input.outputTokens);
    return this.rateCard.quote({
      model: hold.model,
      inputTokens: input.inputTokens,
      outputTokens: input.outputTokens,
      at: hold.pricedAt,
    }).credits;
  }

  /**
   * Whether a reserve that found its key's hold is a retry of that same call: the hold is still live and was made
   * for the same model, member, most output and input tokens (priced at the hold's moment, so a retry across a rate
   * change still matches). Anything else is another call under an old key (billing-rules row 109): answering it
   * with the old hold let the call run and its commit answer the first one's, burning nothing.
   */
  private isRetryOf(hold: CreditHoldView, request: TokenReserveRequest, now: Date): boolean {
    if (hold.state !== 'held' || hold.expiresAt <= now || !hold.model || !hold.pricedAt) return false;
    if (hold.model !== request.model || hold.memberId !== (request.memberId ?? null)) return false;
    if (hold.maxOutputTokens !== null && hold.maxOutputTokens !== request.maxOutputTokens) return false;
    const { credits } = this.rateCard.quote({
      model: request.model,
      inputTokens: request.inputTokens,
      outputTokens: request.maxOutputTokens,
      at: hold.pricedAt,
    });
    return credits === hold.credits;
  }

  /** Gives the hold back; false when it was committed, released or expired already. */
  async release(accountId: string, reservationId: string, caller: TokenCaller = 'service'): Promise<boolean> {
    if (!settleable(reservationId, caller)) throw new NotFoundError('The reservation');
    await this.tokenHold(accountId, reservationId);
    return this.ledger.releaseHold(accountId, reservationId);
  }

  private async tokenHold(accountId: string, reservationId: string) {
    const hold = UUID.test(reservationId) ? await this.ledger.findHold(accountId, reservationId) : null;
    if (!hold?.model || !hold.pricedAt) throw new NotFoundError('The reservation');
    return { ...hold, model: hold.model, pricedAt: hold.pricedAt };
  }
}

/**
 * The hold's id: from the caller's idempotency key (a retry finds the same hold; the account is part of it, so
 * two accounts' keys never meet), else random. Its UUID version says who made it: 4 the calling service, 8 (RFC
 * 9562's custom version) a user. The id of a key can be derived by anyone who knows the key (a request id the
 * user's own client sent), so who may settle a hold is decided by its mark, not by the id being secret.
 */
function holdIdOf(accountId: string, idempotencyKey: string | null, caller: TokenCaller): string {
  if (!idempotencyKey && caller === 'service') return crypto.randomUUID();
  const hex = idempotencyKey
    ? createHash('sha256').update(`token-reservation\n${accountId}\n${idempotencyKey}`).digest('hex')
    : randomBytes(16).toString('hex');
  // The version and variant bits set, so it is a valid `uuid` value of the caller's version.
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  const version = caller === 'user' ? USER_HOLD_VERSION : '4';
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${version}${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The UUID version of the holds users make (holdIdOf). */
const USER_HOLD_VERSION = '8';

/** Whether `caller` may commit or release the hold `holdId`: the calling service any, a user only a user's. */
function settleable(holdId: string, caller: TokenCaller): boolean {
  return UUID.test(holdId) && (caller === 'service' || holdId.charAt(14) === USER_HOLD_VERSION);
}

function validateReserve(request: TokenReserveRequest, ttlSeconds: number): void {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
    throw new BadUserInputError(
      `ttlSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`,
      'ttlSeconds',
    );
  if (request.idempotencyKey != null && !IDEMPOTENCY_KEY.test(request.idempotencyKey))
    throw new BadUserInputError(
      'idempotencyKey must be 1 to 255 printable ASCII characters without spaces',
      'idempotencyKey',
    );
  if (request.memberId != null && (request.memberId.length < 1 || request.memberId.length > 255))
    throw new BadUserInputError('memberId must be 1 to 255 characters', 'memberId');
}

/** The part beyond the balance would pass the spend limit: what fits, and what the customer can do. */
function spendLimitReached(
  refusal: { available: number; requested: number; overageRoom: number; limitCents: number | null },
  currency: string,
): BillingError {
  return new BillingError(
    ErrorCode.SPEND_LIMIT_REACHED,
    `This call needs up to ${refusal.requested} credits, ${refusal.available} are available and only ${refusal.overageRoom} more fit under this period's spend limit: buy credits or raise the spend limit`,
    {
      metric: 'credits',
      available: refusal.available,
      requested: refusal.requested,
      overageRoom: refusal.overageRoom,
      limitCents: refusal.limitCents,
      currency,
      remedy: 'RAISE_SPEND_LIMIT',
    },
  );
}

/** More output committed than reserved: what was reserved, what was reported, and what the caller can do. */
function reservationExceeded(maxOutputTokens: number, outputTokens: number): BillingError {
  return new BillingError(
    ErrorCode.RESERVATION_EXCEEDED,
    `The call reports ${outputTokens} output tokens and its reservation admitted at most ${maxOutputTokens}: pass the reservation's maxOutputTokens as the model's max_tokens, and reserve for the real size`,
    { field: 'outputTokens', maxOutputTokens, outputTokens },
  );
}

/** Not enough credits for the estimate: what there is, what was asked, and what the customer can do. */
function creditsExhausted(available: number, requested: number): BillingError {
  return new BillingError(
    ErrorCode.USAGE_LIMIT_EXCEEDED,
    `This call needs up to ${requested} credits and ${available} are available: buy credits (on a plan that bills overage, calls go past the balance while its subscription is active)`,
    { metric: 'credits', available, requested, remedy: 'BUY_CREDITS' },
  );
}

function keyReused(): BillingError {
  return new BillingError(
    ErrorCode.CONFLICT,
    'This idempotencyKey was used for another model call, or for one already committed, released or expired: use a new key for a new call',
    { reason: 'IDEMPOTENCY_KEY_REUSED', field: 'idempotencyKey' },
  );
}
