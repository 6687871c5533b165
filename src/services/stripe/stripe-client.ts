import Stripe from 'stripe';
import type { Config } from '../../config';
import type { StripeCallMetrics, StripeCallOutcome } from '../../observability/metrics';
import { SERVICE_NAME, SERVICE_VERSION } from '../../version';
import type { Logger } from '../../logging/logger';
import { idempotencyKey } from './idempotency-key';
import { RateLimiter } from './rate-limiter';
import { toBillingError } from './stripe-errors';

export type StripeSettings = Config['stripe'] & { secretKey: string };

/** What one mutating call is doing; its idempotency key is derived from it. */
export interface Intent {
  /** What is being done to what, e.g. `customer.create:acct_1`. */
  name: string;
  /** The parameters sent: a retry with the same ones replays Stripe's first answer. */
  params?: unknown;
}

export interface StripeCallStats {
  calls: number;
  failures: number;
  totalMs: number;
}

/**
 * The only code that talks to Stripe. One configured SDK instance (pinned API version, timeout, network
 * retries, app info); a client-side rate limiter; an idempotency key on every mutating call derived from its
 * intent; a structured log line per HTTP call with Stripe's request id; Stripe errors mapped to our codes.
 */
export class StripeClient {
  readonly sdk: Stripe;
  private readonly limiter: RateLimiter;
  private readonly stats = new Map<string, StripeCallStats>();
  private readonly rateLimitRetries: number;

  constructor(
    settings: StripeSettings,
    private readonly logger: Logger,
    private readonly metrics: StripeCallMetrics | null = null,
  ) {
    this.sdk = new Stripe(settings.secretKey, {
      timeout: settings.timeoutMs,
      maxNetworkRetries: settings.maxNetworkRetries,
      appInfo: { name: SERVICE_NAME, version: SERVICE_VERSION },
      telemetry: false,
      ...apiBaseOptions(settings.apiBase),
    });
    this.limiter = new RateLimiter(settings.maxRequestsPerSecond);
    this.rateLimitRetries = settings.maxNetworkRetries;
    // One line per HTTP exchange, retries included; never the key or the body, which may hold personal data.
    this.sdk.on('response', (response: Stripe.ResponseEvent) => {
      this.logger.debug(
        {
          stripe: {
            method: response.method,
            path: response.path,
            status: response.status,
            requestId: response.request_id,
            elapsedMs: response.elapsed,
          },
        },
        'stripe response',
      );
    });
  }

  /**
   * Runs one Stripe operation. `operation` names it in logs and statistics; `intent` (for anything that
   * changes Stripe) becomes its idempotency key. Stripe errors come out as our `BillingError`s.
   */
  async call<T>(
    operation: string,
    send: (sdk: Stripe, options: Stripe.RequestOptions) => Promise<T>,
    intent?: Intent,
  ): Promise<T> {
    await this.limiter.acquire();
    const options: Stripe.RequestOptions = intent
      ? { idempotencyKey: idempotencyKey(intent.name, intent.params) }
      : {};
    const started = performance.now();
    try {
      const result = await this.sendWithRateLimitRetries(send, options);
      this.record(operation, started, 'success');
      return result;
    } catch (error) {
      this.record(operation, started, stripeOutcomeOf(error));
      const mapped = toBillingError(error);
      this.logger.warn(
        {
          stripe: {
            operation,
            type: error instanceof Stripe.errors.StripeError ? (error.rawType ?? error.type) : 'unknown',
            code: error instanceof Stripe.errors.StripeError ? (error.code ?? null) : null,
            requestId: error instanceof Stripe.errors.StripeError ? (error.requestId ?? null) : null,
          },
        },
        'stripe call failed',
      );
      throw mapped ?? error;
    }
  }

  /**
   * The SDK retries network errors, 409s and 5xx itself; a 429 (Stripe's rate limit) it leaves to us. Those are
   * retried here with exponential back-off and jitter, with the same idempotency key, a bounded number of times.
   */
  private async sendWithRateLimitRetries<T>(
    send: (sdk: Stripe, options: Stripe.RequestOptions) => Promise<T>,
    options: Stripe.RequestOptions,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await withoutCallSiteStack(() => send(this.sdk, options));
      } catch (error) {
        if (!(error instanceof Stripe.errors.StripeRateLimitError) || attempt >= this.rateLimitRetries)
          throw error;
        const backOffMs = 250 * 2 ** attempt;
        await new Promise((done) => setTimeout(done, backOffMs / 2 + Math.random() * (backOffMs / 2)));
        await this.limiter.acquire();
      }
    }
  }

  /** Calls, failures and total time per operation since start: for metrics and benchmarks. */
  statistics(): ReadonlyMap<string, StripeCallStats> {
    return this.stats;
  }

  private record(operation: string, started: number, outcome: StripeCallOutcome): void {
    const elapsedMs = performance.now() - started;
    const entry = this.stats.get(operation) ?? { calls: 0, failures: 0, totalMs: 0 };
    entry.calls += 1;
    if (outcome !== 'success') entry.failures += 1;
    entry.totalMs += elapsedMs;
    this.stats.set(operation, entry);
    this.metrics?.call(operation, outcome, elapsedMs / 1000);
  }
}

/**
 * Starts an SDK request without the call-site stack the SDK captures on every request (`new Error().stack` in
 * `StripeResource._makeRequest`, formatted at once, through source maps in production), which it only attaches
 * to an error: about 4 % of a webhook worker's CPU (issue 14's profile). Our errors name the operation instead
 * (`call`'s log line and metrics). The limit is restored before anything else runs: the SDK's request is
 * started synchronously, and errors raised later keep their usual stacks.
 */
function withoutCallSiteStack<T>(start: () => Promise<T>): Promise<T> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A failed call's kind for the metrics, by the SDK's error class (never the message): a small, fixed set. */
function stripeOutcomeOf(error: unknown): StripeCallOutcome {
  const errors = Stripe.errors;
  if (error instanceof errors.StripeCardError) return 'card_error';
  if (error instanceof errors.StripeRateLimitError) return 'rate_limit_error';
  if (error instanceof errors.StripeIdempotencyError) return 'idempotency_error';
  if (error instanceof errors.StripeInvalidRequestError) return 'invalid_request_error';
  if (error instanceof errors.StripeAuthenticationError || error instanceof errors.StripePermissionError)
    return 'authentication_error';
  if (error instanceof errors.StripeConnectionError) return 'connection_error';
  if (error instanceof errors.StripeAPIError) return 'api_error';
  return 'other_error';
}

/** `STRIPE_API_BASE` (e.g. the emulator) as the SDK's host, port and protocol; unset means Stripe itself. */
export function apiBaseOptions(
  apiBase: string | null,
): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (!apiBase) return {};
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol };
}
