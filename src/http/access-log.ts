import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessLogger } from '../logging/access-logger';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller's account, once the GraphQL context knows it: the access line names it. */
    accountId: string | null;
  }
}

/** Routes that ask for less than `info` (health checks, metrics scrapes) stay out of the access log. */
const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent']);

/**
 * One access line per request, written when the answer has gone: `msg: "request"` with the method, the path
 * (never the query string, which can carry a GraphQL document's variables), `statusCode`, `responseTime` in
 * milliseconds, `reqId` and `accountId`. It replaces Fastify's two lines per request ("incoming request",
 * "request completed"), which went through the redacting process logger; every request is logged (no
 * sampling) because support looks a single customer's request up by its id.
 */
export function registerAccessLog(app: FastifyInstance, log: AccessLogger): void {
  app.decorateRequest('accountId', null);
  if (!log.enabled) return;
  app.addHook('onResponse', (request, reply, done) => {
    if (!isQuiet(request)) {
      log.write(
        request.id,
        request.method,
        pathOf(request.url),
        reply.statusCode,
        Math.round(reply.elapsedTime * 100) / 100,
        request.accountId ?? null,
      );
    }
    done();
  });
}

function isQuiet(request: FastifyRequest): boolean {
  const level = request.routeOptions.logLevel;
  return typeof level === 'string' && QUIET_LEVELS.has(level);
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
