import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
type Level = (typeof LEVELS)[number];

/**
 * Fastify makes a child logger for every request (it binds `reqId`), and with redaction configured building a
 * pino child is not free. Most requests never log at an enabled level, so this stands in for the child and
 * builds it on the first line that will actually be written (or the first `child()` call).
 */
export function lazyChildLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  let child: FastifyBaseLogger | null = null;
  const real = (): FastifyBaseLogger => {
    child ??= parent.child(bindings, options);
    return child;
  };
  const threshold = levelValue(options.level ?? parent.level);
  const logger = {
    get level() {
      return child?.level ?? options.level ?? parent.level;
    },
    set level(level: string) {
      real().level = level;
    },
    silent: () => undefined,
    child: (more: Bindings, moreOptions?: ChildLoggerOptions) => real().child(more, moreOptions),
  } as unknown as FastifyBaseLogger;
  for (const level of LEVELS) {
    const enabled = levelValue(level) >= threshold;
    (logger as unknown as Record<Level, (...args: unknown[]) => void>)[level] = enabled
      ? (...args: unknown[]) => (real()[level] as (...a: unknown[]) => void)(...args)
      : () => undefined;
  }
  return logger;
}

function levelValue(level: string): number {
  const index = LEVELS.indexOf(level as Level);
  // `silent` (or anything unknown) is above every level: nothing is written.
  return index === -1 ? Number.POSITIVE_INFINITY : index;
}
