import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BillingClient, BillingClientError } from './billing-client';
import { refusalOf, type UsageDeniedBody, UsageGateErrorCode } from './usage-refusals';
import {
  type FlushResult,
  stderrLogger,
  type UsageLogger,
  UsageRecorder,
  type UsageRecorderOptions,
} from './usage-recorder';

export interface UsageGateOptions<Req extends IncomingMessage, Res extends ServerResponse> {
  /** A `BillingClient` authenticated with a `service` token. */
  client: Pick<BillingClient, 'reserveUsage' | 'commitUsage' | 'releaseUsage' | 'recordUsage'>;
  /** A feature the route needs (e.g. `api_access`), checked with the reservation. */
  feature?: string;
  /** The metric each request uses (e.g. `ai_requests`): reserved before, committed after. */
  metric: string;
  /** The CODITECT account of the request (from the caller's verified token); undefined answers 401. */
  accountId: (req: Req) => string | undefined;
  /**
   * The most a request may use, held before the handler runs (e.g. a completion's `max_tokens`). Default 1. A
   * request that would pass a hard limit with it is refused with 402 before any work is done.
   */
  reserve?: (req: Req) => number;
  /**
   * What the request used, read when the response has finished, and committed. Default: what was reserved.
   * 0 records nothing. More than reserved is recorded too (the work was done).
   */
  quantity?: (req: Req, res: Res) => number;
  /** Seconds a hold lasts if the gateway dies before committing or releasing it (default 300). */
  ttlSeconds?: number;
  /**
   * The request's idempotency key: a client's retry of the same request must give the same key, so it is
   * counted once. Default: none (every request served is counted); pass `idempotencyKeyHeader` to trust the
   * client's `Idempotency-Key` header instead. The key sent to the billing service is `<metric>:<key>`, so gates
   * of different metrics on one request do not collide.
   */
  idempotencyKey?: (req: Req) => string | undefined;
  /**
   * When the reservation cannot get an answer (billing service down, timeout, misconfigured token): `deny` answers
   * 503 (default); `allow` lets the request through and records it afterwards, retried until the service is back.
   */
  onUnavailable?: 'deny' | 'allow';
  /** pino or anything with `warn(details, message)` and `error(details, message)`. Default: JSON on stderr. */
  logger?: UsageLogger;
  /** A recorder shared with other gates (one queue to flush at shutdown). Default: a recorder of its own. */
  recorder?: UsageRecorder;
  /** Retry and queue settings of the gate's own recorder (ignored with `recorder`). */
  retry?: Omit<UsageRecorderOptions, 'client' | 'logger'>;
}

/** An Express-compatible middleware (also plain `node:http` and Connect) with its recorder's shutdown hooks. */
export type UsageGate<Req extends IncomingMessage, Res extends ServerResponse> = ((
  req: Req,
  res: Res,
  next: (error?: unknown) => void,
) => void) & {
  readonly recorder: UsageRecorder;
  /** Sends every pending commit, release and record now and waits for the queue to empty (default 10 s). */
  flush(options?: { timeoutMs?: number }): Promise<FlushResult>;
  /** For shutdown: flushes, then logs whatever is still pending as lost. */
  close(options?: { timeoutMs?: number }): Promise<FlushResult>;
};

const MAX_KEY_LENGTH = 255;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** What the gate does for a request once the billing service has answered the reservation. */
type Admission =
  | { kind: 'reserved'; reservationId: string; quantity: number }
  | { kind: 'refused'; status: number; body: UsageDeniedBody }
  | { kind: 'unavailable' };

/** Whose request it is, and the key its usage is recorded under (`<metric>:<key>`), if any. */
interface Caller {
  accountId: string;
  idempotencyKey: string | undefined;
}

/** What every request through one gate shares: its options with their defaults filled in. */
interface Gate<Req extends IncomingMessage, Res extends ServerResponse> {
  options: UsageGateOptions<Req, Res>;
  logger: UsageLogger;
  recorder: UsageRecorder;
  onUnavailable: 'deny' | 'allow';
  /** Features and metrics already warned about as unknown to the billing service: one warning each. */
  warnedUnknown: Set<string>;
}

/**
 * Gates a route on the account's plan and meters its usage, so a hard limit holds however many requests run at
 * once:
 *
 * 1. Before: reserves `reserve(req)` (default 1) of `metric` (and checks `feature`). Refused: 402 with a JSON
 *    `error` naming the limit; the handler does not run.
 * 2. After: when the response has gone out with a 2xx status, commits `quantity(req, res)` in the background
 *    (retried with back-off; a repeat is counted once); any other outcome releases the hold.
 */
export function usageGate<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(options: UsageGateOptions<Req, Res>): UsageGate<Req, Res> {
  const logger = options.logger ?? stderrLogger;
  const gate: Gate<Req, Res> = {
    options,
    logger,
    recorder: options.recorder ?? new UsageRecorder({ ...options.retry, client: options.client, logger }),
    onUnavailable: options.onUnavailable ?? 'deny',
    warnedUnknown: new Set<string>(),
  };
  const middleware = (req: Req, res: Res, next: (error?: unknown) => void): void => {
    gateRequest(gate, req, res, next).catch(next);
  };
  return Object.assign(middleware, {
    recorder: gate.recorder,
    flush: (flushOptions?: { timeoutMs?: number }) => gate.recorder.flush(flushOptions),
    close: (closeOptions?: { timeoutMs?: number }) => gate.recorder.close(closeOptions),
  });
}

/** One request: who it is, the reservation, then the handler, with its usage settled when the response is done. */
async function gateRequest<Req extends IncomingMessage, Res extends ServerResponse>(
  gate: Gate<Req, Res>,
  req: Req,
  res: Res,
  next: (error?: unknown) => void,
): Promise<void> {
  const caller = identify(gate, req, res, next);
  if (!caller) return;
  const admission = await admit(gate, caller, req);
  if (admission.kind === 'refused') {
    send(res, admission.status, admission.body);
    return;
  }
  if (admission.kind === 'unavailable' && gate.onUnavailable === 'deny') {
    res.setHeader('retry-after', '5');
    sendError(
      res,
      503,
      UsageGateErrorCode.BILLING_UNAVAILABLE,
      'The billing service is unavailable; try again shortly',
    );
    return;
  }
  settleWhenDone(gate, req, res, caller, admission);
  next();
}

/** The request's account and usage key; null when the request has been answered (401, 400) or passed on. */
function identify<Req extends IncomingMessage, Res extends ServerResponse>(
  gate: Gate<Req, Res>,
  req: Req,
  res: Res,
  next: (error?: unknown) => void,
): Caller | null {
  const { options } = gate;
  let accountId: string | undefined;
  let requestKey: string | undefined;
  try {
    accountId = options.accountId(req);
    // Default: no key. Every request served is a use, retries included. A key the client chooses is trusted
    // only on request (`idempotencyKey: idempotencyKeyHeader`): a client repeating one key would otherwise be
    // served without end and counted once.
    requestKey = options.idempotencyKey?.(req);
  } catch (error) {
    next(error);
    return null;
  }
  if (!accountId) {
    sendError(res, 401, UsageGateErrorCode.UNAUTHENTICATED, 'No account: the request must be signed in');
    return null;
  }
  const idempotencyKey = requestKey === undefined ? undefined : `${options.metric}:${requestKey}`;
  if (
    idempotencyKey !== undefined &&
    (idempotencyKey.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(idempotencyKey))
  ) {
    sendError(
      res,
      400,
      UsageGateErrorCode.BAD_IDEMPOTENCY_KEY,
      `Idempotency-Key must be printable ASCII without spaces, at most ${MAX_KEY_LENGTH - options.metric.length - 1} characters`,
    );
    return null;
  }
  return { accountId, idempotencyKey };
}

/** Asks the billing service to hold the request's usage: reserved, refused (402), or no answer. */
async function admit<Req extends IncomingMessage, Res extends ServerResponse>(
  gate: Gate<Req, Res>,
  { accountId, idempotencyKey }: Caller,
  req: Req,
): Promise<Admission> {
  const { options, logger } = gate;
  const quantity = reservedQuantity(gate, req);
  try {
    const reservation = await options.client.reserveUsage({
      accountId,
      metric: options.metric,
      quantity,
      ...(options.feature ? { feature: options.feature } : {}),
      ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    return { kind: 'reserved', reservationId: reservation.id, quantity };
  } catch (error) {
    const refusal = refusalOf(error, options, gate.warnedUnknown, logger);
    if (refusal) return { kind: 'refused', status: 402, body: refusal };
    const code = error instanceof BillingClientError ? error.code : undefined;
    const message = error instanceof Error ? error.message : String(error);
    logger.error(
      {
        accountId,
        feature: options.feature,
        metric: options.metric,
        code,
        onUnavailable: gate.onUnavailable,
      },
      `usage reservation failed: ${message}`,
    );
    return { kind: 'unavailable' };
  }
}

/** `reserve(req)`, or 1 by default and when it throws (logged). */
function reservedQuantity<Req extends IncomingMessage, Res extends ServerResponse>(
  { options, logger }: Gate<Req, Res>,
  req: Req,
): number {
  try {
    return options.reserve ? options.reserve(req) : 1;
  } catch (error) {
    logger.error({ metric: options.metric, error: String(error) }, 'reserve(req) threw: 1 is reserved');
    return 1;
  }
}

/**
 * Settles the request's usage once, when the response is done. `finish`: the whole response went out. `close`
 * without `finish`: the client went away mid-response; if a 2xx had started (a stream), the work was done, so
 * it is counted too.
 */
function settleWhenDone<Req extends IncomingMessage, Res extends ServerResponse>(
  gate: Gate<Req, Res>,
  req: Req,
  res: Res,
  caller: Caller,
  admission: Admission,
): void {
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    res.off('finish', settle);
    res.off('close', settle);
    settleUsage(gate, req, res, caller, admission);
  };
  res.once('finish', settle);
  res.once('close', settle);
}

/** Served with a 2xx: commit (or record) what it used. Anything else: give the hold back. */
function settleUsage<Req extends IncomingMessage, Res extends ServerResponse>(
  gate: Gate<Req, Res>,
  req: Req,
  res: Res,
  { accountId, idempotencyKey }: Caller,
  admission: Admission,
): void {
  const { options, recorder } = gate;
  const served = res.headersSent && res.statusCode >= 200 && res.statusCode <= 299;
  const quantity = served
    ? quantityOf(gate, req, res, admission.kind === 'reserved' ? admission.quantity : 1)
    : null;
  if (admission.kind === 'reserved') {
    const reservationId = admission.reservationId;
    if (quantity === null) recorder.enqueueRelease({ reservationId, accountId, metric: options.metric });
    else recorder.enqueueCommit({ reservationId, quantity, accountId, metric: options.metric });
    return;
  }
  // Served while the billing service could not be asked (onUnavailable: allow): recorded once it is back.
  if (quantity === null || quantity === 0) return;
  recorder.enqueue({
    accountId,
    metric: options.metric,
    quantity,
    idempotencyKey: idempotencyKey ?? `${options.metric}:${randomUUID()}`,
    occurredAt: new Date(),
  });
}

/** What the request used, or null when it cannot be told (logged; the hold is released). */
function quantityOf<Req extends IncomingMessage, Res extends ServerResponse>(
  { options, logger }: Gate<Req, Res>,
  req: Req,
  res: Res,
  reserved: number,
): number | null {
  if (!options.quantity) return reserved;
  let quantity: unknown;
  try {
    quantity = options.quantity(req, res);
  } catch (error) {
    logger.error(
      { metric: options.metric, error: error instanceof Error ? error.message : String(error) },
      'quantity(req, res) threw: usage not recorded',
    );
    return null;
  }
  if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 0) {
    logger.error(
      { metric: options.metric, quantity: String(quantity) },
      'quantity(req, res) is not a whole number ≥ 0: usage not recorded',
    );
    return null;
  }
  return quantity;
}

/**
 * Opt-in: the request's `Idempotency-Key` header as the usage key, so a client's retry of one request is counted
 * once. Only for clients the gateway trusts not to reuse a key to be served for free.
 */
export function idempotencyKeyHeader(req: IncomingMessage): string | undefined {
  const value = req.headers['idempotency-key'];
  // A repeated header arrives as one value joined with ", ", which the key check refuses.
  return Array.isArray(value) ? value.join(', ') : value || undefined;
}

function sendError(res: ServerResponse, status: number, code: UsageGateErrorCode, message: string): void {
  send(res, status, { error: { code, message } });
}

function send(res: ServerResponse, status: number, body: object): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(json));
  res.end(json);
}
