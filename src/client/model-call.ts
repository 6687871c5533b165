import type {
  BillingClient,
  ReserveTokensInput,
  TokenCommitResult,
  TokenReservation,
} from './billing-client';

/** What a model call used, as the model's answer reports it (`usage.input_tokens`, `usage.output_tokens`). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type ModelCallClient = Pick<BillingClient, 'reserveTokens' | 'commitTokens' | 'releaseUsage'>;

export interface ModelCallOptions {
  /** The call is abandoned (its signal aborted, the hold released) after this long. Default: no limit. */
  timeoutMs?: number;
}

/** The model call took longer than `timeoutMs`: aborted, and its hold given back. */
export class ModelCallTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The model call took longer than ${timeoutMs} ms: aborted, its credits released`);
    this.name = 'ModelCallTimeoutError';
  }
}

/**
 * One model call paid in credits (docs/usage-middleware.md "Model calls"): reserves the estimate (input tokens and
 * the most output) before the call, so a call the account cannot pay for is refused (USAGE_LIMIT_EXCEEDED) before
 * any model is paid; commits the tokens the answer reports after it; releases the hold when the call throws or
 * times out. The hold's own TTL gives the credits back should this process die in between.
 */
export async function meteredModelCall<T>(
  client: ModelCallClient,
  estimate: ReserveTokensInput,
  call: (reservation: TokenReservation, signal: AbortSignal) => Promise<{ value: T; usage: TokenUsage }>,
  options: ModelCallOptions = {},
): Promise<{ value: T; reservation: TokenReservation; credits: TokenCommitResult }> {
  const reservation = await client.reserveTokens(estimate);
  const controller = new AbortController();
  let answer: { value: T; usage: TokenUsage };
  try {
    answer = await withTimeout(call(reservation, controller.signal), controller, options.timeoutMs);
  } catch (error) {
    await release(client, estimate, reservation);
    throw error;
  }
  const credits = await client.commitTokens({
    reservationId: reservation.id,
    ...answer.usage,
    ...(estimate.accountId ? { accountId: estimate.accountId } : {}),
  });
  return { value: answer.value, reservation, credits };
}

/**
 * A streamed model call paid in credits: reserves before the stream opens, passes its chunks through, and commits
 * when the stream ends with the last usage a chunk reported (`usageOf`). A stream that fails or is left after
 * some chunks still did work: it is committed with what was reported, else with the estimate; one that fails
 * before its first chunk is released.
 */
export async function* meteredStream<Chunk>(
  client: ModelCallClient,
  estimate: ReserveTokensInput,
  open: (
    reservation: TokenReservation,
    signal: AbortSignal,
  ) => AsyncIterable<Chunk> | Promise<AsyncIterable<Chunk>>,
  usageOf: (chunk: Chunk) => Partial<TokenUsage> | undefined,
): AsyncGenerator<Chunk, TokenCommitResult | null> {
  const reservation = await client.reserveTokens(estimate);
  const controller = new AbortController();
  const usage: TokenUsage = { inputTokens: estimate.inputTokens, outputTokens: estimate.maxOutputTokens };
  let started = false;
  let settled = false;
  try {
    for await (const chunk of await open(reservation, controller.signal)) {
      started = true;
      Object.assign(usage, definedOf(usageOf(chunk)));
      yield chunk;
    }
    settled = true;
    return await commit(client, estimate, reservation, usage);
  } finally {
    // Left early (the consumer broke off) or failed: the work done so far is paid, work never started is not.
    if (!settled) {
      controller.abort();
      if (started) await commit(client, estimate, reservation, usage);
      else await release(client, estimate, reservation);
    }
  }
}

function commit(
  client: ModelCallClient,
  estimate: ReserveTokensInput,
  reservation: TokenReservation,
  usage: TokenUsage,
): Promise<TokenCommitResult> {
  return client.commitTokens({
    reservationId: reservation.id,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    ...(estimate.accountId ? { accountId: estimate.accountId } : {}),
  });
}

async function release(
  client: ModelCallClient,
  estimate: ReserveTokensInput,
  reservation: TokenReservation,
): Promise<void> {
  // A failed release is not the caller's error: the hold expires by itself at its TTL.
  await client
    .releaseUsage({
      reservationId: reservation.id,
      ...(estimate.accountId ? { accountId: estimate.accountId } : {}),
    })
    .catch(() => false);
}

function withTimeout<T>(work: Promise<T>, controller: AbortController, timeoutMs?: number): Promise<T> {
  if (timeoutMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ModelCallTimeoutError(timeoutMs));
    }, timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function definedOf(usage: Partial<TokenUsage> | undefined): Partial<TokenUsage> {
  if (!usage) return {};
  return Object.fromEntries(Object.entries(usage).filter(([, value]) => value !== undefined));
}
