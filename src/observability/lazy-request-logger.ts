import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
type Level = (typeof LEVELS)[number];

/**
 * Fastify makes a child logger for every request (it binds `reqId`), and with redaction configured building a
 * pino child is not free. Most requests never log at an enabled level, so this stands in for the child and
 * builds it on the first line that will actually be written (or the first `child()` call). A class, so that a
 * request costs one small object and no closures (it is made for every request, the no-op included).
 */
class LazyChildLogger {
  private built: FastifyBaseLogger | null = null;
  private readonly threshold: number;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {
    this.threshold = levelValue(options.level ?? parent.level);
  }

  get level(): string {
    return this.built?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  trace(...args: Parameters<LogFn>): void {
    this.write(0, 'trace', args);
  }
  debug(...args: Parameters<LogFn>): void {
    this.write(1, 'debug', args);
  }
  info(...args: Parameters<LogFn>): void {
    this.write(2, 'info', args);
  }
  warn(...args: Parameters<LogFn>): void {
    this.write(3, 'warn', args);
  }
  error(...args: Parameters<LogFn>): void {
    this.write(4, 'error', args);
  }
  fatal(...args: Parameters<LogFn>): void {
    this.write(5, 'fatal', args);
  }

  private write(value: number, level: Level, args: Parameters<LogFn>): void {
    if (value < this.threshold) return;
    (this.real()[level] as (...logged: Parameters<LogFn>) => void)(...args);
  }

  private real(): FastifyBaseLogger {
    this.built ??= this.parent.child(this.bindings, this.options);
    return this.built;
  }
}

export function lazyChildLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}

function levelValue(level: string): number {
  const index = LEVELS.indexOf(level as Level);
  // `silent` (or anything unknown) is above every level: nothing is written.
  return index === -1 ? Number.POSITIVE_INFINITY : index;
}
