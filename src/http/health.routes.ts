import type { FastifyInstance } from 'fastify';

/** One dependency readiness depends on: answers true when it is usable. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

const CHECK_TIMEOUT_MS = 2000;

async function withTimeout(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check.check().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: the process is alive (restart it if not). `/readyz`: it can serve (route traffic to it only
 * then); a 503 names the dependency that is down.
 */
export function registerHealthRoutes(app: FastifyInstance, checks: ReadinessCheck[]): void {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    const results = await Promise.all(
      checks.map(async (check) => [check.name, await withTimeout(check)] as const),
    );
    const failing = results.filter(([, ok]) => !ok).map(([name]) => name);
    const body = {
      status: failing.length === 0 ? 'ready' : 'unavailable',
      checks: Object.fromEntries(results.map(([name, ok]) => [name, ok ? 'up' : 'down'])),
      ...(failing.length > 0 ? { failing } : {}),
    };
    return reply.code(failing.length === 0 ? 200 : 503).send(body);
  });
}
