import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';
import { currentRequestScope } from './observability/request-scope';

export type PinoLogger = Logger;

/**
 * JSON logs (pino). Anything that could carry a secret is redacted by path, so a careless log line still
 * cannot leak a token, a signature or a key.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'headers.authorization',
  'headers["stripe-signature"]',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["stripe-signature"]',
  'connectionParams.authorization',
  '*.connectionParams.authorization',
  'authorization',
  'token',
  'secret',
  'apiKey',
  'password',
  '*.token',
  '*.secret',
  '*.apiKey',
  '*.password',
  '*.secretKey',
  '*.webhookSecret',
  '*.webhookSecrets',
  '*.jwtSecret',
  '*.metricsToken',
  '*.*.secretKey',
  '*.*.webhookSecret',
  '*.*.webhookSecrets',
  '*.*.jwtSecret',
  '*.*.metricsToken',
  '*.*.token',
  'card.number',
  'card.cvc',
  '*.card.number',
  '*.card.cvc',
];

/**
 * Secrets by their shape, for text the paths cannot reach (a message, an error's message or stack): JWTs, Stripe
 * secret and restricted keys, webhook signing secrets, and card numbers (13–19 digits passing the Luhn check).
 */
const SECRET_SHAPES = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*|\b(?:sk|rk)_(?:test|live)_\w+|\bwhsec_\w+/g;
const DIGIT_RUN = /\b\d(?:[ -]?\d){12,18}\b/g;

/** `text` with anything shaped like a secret or a card number replaced by `[redacted]`. */
export function scrubSecrets(text: string): string {
  return text
    .replace(SECRET_SHAPES, '[redacted]')
    .replace(DIGIT_RUN, (run) => (luhnValid(run.replace(/[ -]/g, '')) ? '[redacted]' : run));
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Fastify's request loggers already bind `reqId`; the mixin adds it only to lines of other loggers. */
const bindsRequestId = new WeakMap<object, boolean>();
function hasRequestIdBinding(logger: Logger): boolean {
  let known = bindsRequestId.get(logger);
  if (known === undefined) {
    known = 'reqId' in logger.bindings();
    bindsRequestId.set(logger, known);
  }
  return known;
}

/**
 * The process's one logger: Fastify's request logs and the services' logs go through it. A line written while
 * a request is served carries its `reqId`, and when known the caller's `accountId` and a failed Stripe call's
 * `stripeRequestId` (see observability/request-scope.ts).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): PinoLogger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      mixin: (_merge, _level, logger) => {
        const scope = currentRequestScope();
        if (!scope) return {};
        return {
          ...(hasRequestIdBinding(logger) ? {} : { reqId: scope.reqId }),
          ...(scope.accountId ? { accountId: scope.accountId } : {}),
          ...(scope.stripeRequestId ? { stripeRequestId: scope.stripeRequestId } : {}),
        };
      },
      serializers: {
        err: (error: Error) => {
          const serialized = pino.stdSerializers.err(error);
          if ((serialized as unknown) === error) return serialized; // not an error: left as it is
          if (typeof serialized.message === 'string') serialized.message = scrubSecrets(serialized.message);
          if (typeof serialized.stack === 'string') serialized.stack = scrubSecrets(serialized.stack);
          return serialized;
        },
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg) : arg)) as Parameters<
              typeof method
            >,
          );
        },
      },
    },
    destination,
  );
}
