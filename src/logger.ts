import type { FastifyServerOptions } from 'fastify';
import type { Config } from './config';

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

export function loggerOptions(config: Pick<Config, 'logLevel'>): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
}
