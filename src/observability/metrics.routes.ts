import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { BillingMetrics } from './metrics';

/**
 * `GET /metrics`: the Prometheus text format. With a token (`METRICS_TOKEN`) only `Authorization: Bearer <token>`
 * gets it (401 otherwise); without one it is open, for a scraper on a private network. Scrapes are not logged
 * per request (one every few seconds would drown the logs).
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: BillingMetrics,
  token: string | null,
): void {
  const expected = token ? digest(token) : null;
  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    if (expected) {
      const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
      if (!given || !timingSafeEqual(digest(given), expected)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="metrics"')
          .send({ error: 'send Authorization: Bearer <METRICS_TOKEN>' });
      }
    }
    const { contentType, body } = await metrics.exposition();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}

/** Equal-length digests, so the comparison takes the same time whatever was sent. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
