import pino, { type DestinationStream, type Logger as PinoBaseLogger } from 'pino';
import type { Config } from '../config';
import { REDACTED_PATHS, scrubLogLine, scrubSecrets } from './redaction';

export type PinoLogger = PinoBaseLogger;

/**
 * The process's one logger: Fastify's request logs and the services' logs go through it. Lines about a request
 * come from its Fastify child logger, so they carry its `reqId` and, once known, the caller's `accountId`; a
 * failed operation's line adds Stripe's request id (see observability/request-scope.ts).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): PinoLogger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
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
        streamWrite: scrubLogLine,
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
