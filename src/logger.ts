import pino, { type Logger } from 'pino';
import type { Config } from './config';

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
  'authorization',
  'token',
  'secret',
  'apiKey',
  '*.secretKey',
  '*.webhookSecret',
  '*.webhookSecrets',
  '*.jwtSecret',
];

/** The process's one logger: Fastify's request logs and the services' logs go through it. */
export function createLogger(config: Pick<Config, 'logLevel'>): PinoLogger {
  return pino({ level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
