import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BillingClient, BillingClientError, type FeatureAccess } from './billing-client';
import {
  type FlushResult,
  stderrLogger,
  type UsageLogger,
  UsageRecorder,
  type UsageRecorderOptions,
} from './usage-recorder';

/** The `error.code` of the middleware's own answers. */
export const UsageGateErrorCode = {
  /** 402: the metric's included amount is used up (the plan blocks use past it). */
  USAGE_LIMIT_EXCEEDED: 'USAGE_LIMIT_EXCEEDED',
  /** 402: the account's plan does not include the feature (or the billing service does not know it). */
  FEATURE_NOT_IN_PLAN: 'FEATURE_NOT_IN_PLAN',
  /** 401: `accountId(req)` found no account. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** 400: the `Idempotency-Key` (or `idempotencyKey(req)`) is not printable ASCII or is too long. */
  BAD_IDEMPOTENCY_KEY: 'BAD_IDEMPOTENCY_KEY',
  /** 503: the billing service could not answer the check and `onUnavailable` is `deny`. */
  BILLING_UNAVAILABLE: 'BILLING_UNAVAILABLE',
} as const;
export type UsageGateErrorCode = (typeof UsageGateErrorCode)[keyof typeof UsageGateErrorCode];

/** The JSON body of a 402 answer. */
export interface UsageDeniedBody {
  error: {
    code: typeof UsageGateErrorCode.USAGE_LIMIT_EXCEEDED | typeof UsageGateErrorCode.FEATURE_NOT_IN_PLAN;
    /** The feature or metric refused. */
    feature: string;
    /** The billing service's reason: LIMIT_REACHED, NOT_IN_PLAN, UNKNOWN_FEATURE. */
    reason: string | null;
    limit: number | null;
    used: number | null;
    message: string;
  };
}

export interface UsageGateOptions<Req extends IncomingMessage, Res extends ServerResponse> {
  /** A `BillingClient` authenticated with a `service` token. */
  client: Pick<BillingClient, 'featureAccesses' | 'recordUsage'>;
  /** A feature the route needs (e.g. `api_access`), checked as well as `metric`. */
  feature?: string;
  /** The metric each successful request uses (e.g. `ai_requests`): checked before, recorded after. */
  metric: string;
  /** The CODITECT account of the request (from the caller's verified token); undefined answers 401. */
  accountId: (req: Req) => string | undefined;
  /** How much of the metric the request used, read when the response has finished. Default 1; 0 records nothing. */
  quantity?: (req: Req, res: Res) => number;
  /**
   * The request's idempotency key: a client's retry of the same request must give the same key, so it is
   * counted once. Default: a new random UUID per request (every request served is counted); pass
   * `idempotencyKeyHeader` to trust the client's `Idempotency-Key` header instead. The
   * key sent to the billing service is `<metric>:<key>`, so gates of different metrics on one request do not
   * collide.
   */
  idempotencyKey?: (req: Req) => string | undefined;
  /**
   * When the check cannot get an answer (billing service down, timeout, misconfigured token): `deny` answers
   * 503 (default); `allow` lets the request through and records it as usual, retried until the service is back.
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
  /** Sends every pending usage record now and waits for the queue to empty (or `timeoutMs`, default 10 s). */
  flush(options?: { timeoutMs?: number }): Promise<FlushResult>;
  /** For shutdown: flushes, then logs whatever is still pending as lost. */
  close(options?: { timeoutMs?: number }): Promise<FlushResult>;
};

const MAX_KEY_LENGTH = 255;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * Gates a route on the account's plan and records its usage:
 *
 * 1. Before: asks the billing service whether the account may use `feature` (if given) and `metric`.
 *    Refused: 402 with a JSON `error` naming the limit; the handler does not run.
 * 2. After: when the response has gone out with a 2xx status, records `quantity` of `metric` once, with the
 *    request's idempotency key, in the background; failures are retried with back-off and the same key.
 */
export function usageGate<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(options: UsageGateOptions<Req, Res>): UsageGate<Req, Res> {
  const logger = options.logger ?? stderrLogger;
  const recorder =
    options.recorder ?? new UsageRecorder({ ...options.retry, client: options.client, logger });
  const keys = options.feature ? [options.feature, options.metric] : [options.metric];
  const onUnavailable = options.onUnavailable ?? 'deny';
  const warnedUnknown = new Set<string>();

  async function gate(req: Req, res: Res, next: (error?: unknown) => void): Promise<void> {
    let accountId: string | undefined;
    let requestKey: string | undefined;
    try {
      accountId = options.accountId(req);
      // Default: a fresh key per request. Every request served is a use, retries included; the key only makes
      // the *recording* of that use safe to retry. A key the client chooses is trusted only on request
      // (`idempotencyKey: idempotencyKeyHeader`): a client repeating one key would otherwise be served without end
      // and counted once.
      requestKey = options.idempotencyKey?.(req);
    } catch (error) {
      next(error);
      return;
    }
    if (!accountId) {
      sendError(res, 401, UsageGateErrorCode.UNAUTHENTICATED, 'No account: the request must be signed in');
      return;
    }
    const idempotencyKey = `${options.metric}:${requestKey ?? randomUUID()}`;
    if (idempotencyKey.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(idempotencyKey)) {
      sendError(
        res,
        400,
        UsageGateErrorCode.BAD_IDEMPOTENCY_KEY,
        `Idempotency-Key must be printable ASCII without spaces, at most ${MAX_KEY_LENGTH - options.metric.length - 1} characters`,
      );
      return;
    }

    try {
      const accesses = await options.client.featureAccesses(accountId, keys);
      const refused = accesses.find((access) => !access.allowed);
      if (refused) {
        if (refused.reason === 'UNKNOWN_FEATURE' && !warnedUnknown.has(refused.feature)) {
          warnedUnknown.add(refused.feature);
          logger.warn(
            { feature: refused.feature },
            'the billing service does not know this feature: every request of this gate is refused',
          );
        }
        send(res, 402, deniedBody(refused));
        return;
      }
    } catch (error) {
      const code = error instanceof BillingClientError ? error.code : undefined;
      const message = error instanceof Error ? error.message : String(error);
      logger.error(
        { accountId, feature: options.feature, metric: options.metric, code, onUnavailable },
        `usage check failed: ${message}`,
      );
      if (onUnavailable === 'deny') {
        res.setHeader('retry-after', '5');
        sendError(
          res,
          503,
          UsageGateErrorCode.BILLING_UNAVAILABLE,
          'The billing service is unavailable; try again shortly',
        );
        return;
      }
    }

    const account = accountId;
    let settled = false;
    // `finish`: the whole response went out. `close` without `finish`: the client went away mid-response; if
    // a 2xx had started (a stream), the work was done, so it is counted too.
    const settle = () => {
      if (settled) return;
      settled = true;
      res.off('finish', settle);
      res.off('close', settle);
      if (!res.headersSent || res.statusCode < 200 || res.statusCode > 299) return;
      const quantity = quantityOf(req, res);
      if (quantity === null || quantity === 0) return;
      recorder.enqueue({
        accountId: account,
        metric: options.metric,
        quantity,
        idempotencyKey,
        occurredAt: new Date(),
      });
    };
    res.once('finish', settle);
    res.once('close', settle);
    next();
  }

  function quantityOf(req: Req, res: Res): number | null {
    if (!options.quantity) return 1;
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

  const middleware = (req: Req, res: Res, next: (error?: unknown) => void): void => {
    gate(req, res, next).catch(next);
  };
  return Object.assign(middleware, {
    recorder,
    flush: (flushOptions?: { timeoutMs?: number }) => recorder.flush(flushOptions),
    close: (closeOptions?: { timeoutMs?: number }) => recorder.close(closeOptions),
  });
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

function deniedBody(access: FeatureAccess): UsageDeniedBody {
  if (access.reason === 'LIMIT_REACHED') {
    return {
      error: {
        code: UsageGateErrorCode.USAGE_LIMIT_EXCEEDED,
        feature: access.feature,
        reason: access.reason,
        limit: access.limit,
        used: access.used,
        message:
          access.limit === null
            ? `Usage limit of ${access.feature} reached for this billing period`
            : `Usage limit reached: ${access.used ?? access.limit} of ${access.limit} ${access.feature} included in the plan used this billing period`,
      },
    };
  }
  return {
    error: {
      code: UsageGateErrorCode.FEATURE_NOT_IN_PLAN,
      feature: access.feature,
      reason: access.reason,
      limit: access.limit,
      used: access.used,
      message:
        access.reason === 'UNKNOWN_FEATURE'
          ? `${access.feature} is not a feature of any plan`
          : `${access.feature} is not included in the account's plan`,
    },
  };
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
