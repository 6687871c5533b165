import type { BillingClient, CommitUsageInput, RecordUsageInput } from './billing-client';
import { BillingClientError } from './billing-client';

/** What the recorder and the middleware log through: pino, or anything with the same two-argument calls. */
export interface UsageLogger {
  debug?(details: object, message: string): void;
  info?(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** The default logger: one JSON line on stderr per warning or error. */
export const stderrLogger: UsageLogger = {
  warn: (details, message) => writeLine('warn', details, message),
  error: (details, message) => writeLine('error', details, message),
};

function writeLine(level: string, details: object, message: string): void {
  process.stderr.write(
    `${JSON.stringify({ level, time: new Date().toISOString(), component: 'usage-recorder', ...details, msg: message })}\n`,
  );
}

/** One use to record for an account. */
export type UsageRecord = RecordUsageInput & { accountId: string };

/** What reserved work used, to commit for an account (`metric` is for the logs). */
export type UsageCommit = CommitUsageInput & { accountId: string; metric: string };

/** A hold to give back (the work failed). */
export interface UsageRelease {
  reservationId: string;
  accountId: string;
  metric: string;
}

/** What the recorder sends: a use, a commit of reserved work, or a release of a hold. */
type UsageJob =
  | { kind: 'record'; record: UsageRecord }
  | { kind: 'commit'; commit: UsageCommit }
  | { kind: 'release'; release: UsageRelease };

export interface UsageRecorderOptions {
  /** `commitUsage` and `releaseUsage` are needed only to queue commits and releases. */
  client: Pick<BillingClient, 'recordUsage'> & Partial<Pick<BillingClient, 'commitUsage' | 'releaseUsage'>>;
  logger?: UsageLogger;
  /** Records waiting or in flight; a record past it is dropped and logged. Default 10,000. */
  maxQueue?: number;
  /** Records sent at the same time. Default 8. */
  concurrency?: number;
  /** Attempts per record, the first included, before it is dropped and logged. Default 10. */
  maxAttempts?: number;
  /** The wait before the first retry; it doubles each time (with jitter). Default 500 ms. */
  initialDelayMs?: number;
  /** The longest wait between two attempts. Default 60,000 ms. */
  maxDelayMs?: number;
  /** [0, 1): the jitter's source. Default `Math.random`. */
  random?: () => number;
}

/** What the recorder has done since it started. */
export interface UsageRecorderStats {
  /** Waiting for an attempt or in flight now. */
  pending: number;
  /** Records and commits the service counted. */
  recorded: number;
  /** Holds given back. */
  released: number;
  /** Answered as already recorded (its idempotency key was known): counted once, as it should be. */
  duplicates: number;
  /** Failed attempts that were scheduled again. */
  retries: number;
  /** Refused with USAGE_LIMIT_EXCEEDED after the check had allowed the request (a race; see the docs). */
  overLimit: number;
  /** Lost: the queue was full, a permanent error, out of attempts, or still pending at `close()`. */
  dropped: number;
}

export interface FlushResult {
  /** Records still pending when the deadline passed (0: everything was sent or given up). */
  pending: number;
}

interface Entry {
  job: UsageJob;
  attempts: number;
  dueAt: number;
}

/** A commit that can never succeed: the reservation is unknown, was released, or the input is wrong. */
const PERMANENT_COMMIT_CODES: ReadonlySet<string> = new Set([
  'NOT_FOUND',
  'CONFLICT',
  'BAD_USER_INPUT',
  'FORBIDDEN',
]);
/** A release is a courtesy (a hold expires by itself): a few tries, then it is left to expire. */
const RELEASE_ATTEMPTS = 3;

/**
 * Sends usage records to the billing service in the background, retrying failures with exponential back-off
 * and the same idempotency key, so a record that reached the service before its answer was lost is reported
 * as a duplicate and counted once. The queue is in memory and bounded: what is pending when the process dies
 * is lost, so call `close()` on shutdown.
 */
export class UsageRecorder {
  private readonly client: UsageRecorderOptions['client'];
  private readonly logger: UsageLogger;
  private readonly maxQueue: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;

  /** Due now, oldest first. */
  private readonly ready: Entry[] = [];
  /** Waiting for a retry. */
  private readonly delayed = new Set<Entry>();
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerDueAt = Number.POSITIVE_INFINITY;
  /** No new records (close() was called). */
  private closed = false;
  /** close() has finished: nothing is retried any more. */
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly counters = {
    recorded: 0,
    released: 0,
    duplicates: 0,
    retries: 0,
    overLimit: 0,
    dropped: 0,
  };

  constructor(options: UsageRecorderOptions) {
    this.client = options.client;
    this.logger = options.logger ?? stderrLogger;
    this.maxQueue = options.maxQueue ?? 10_000;
    this.concurrency = options.concurrency ?? 8;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.initialDelayMs = options.initialDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.random = options.random ?? Math.random;
  }

  /** Records waiting or in flight. */
  get pending(): number {
    return this.ready.length + this.delayed.size + this.inFlight;
  }

  stats(): UsageRecorderStats {
    return { pending: this.pending, ...this.counters };
  }

  /**
   * Queues a record and starts sending it at once. Returns false (and logs the record, so it can be
   * recovered from the logs) when it is dropped because the queue is full or the recorder is closed.
   */
  enqueue(record: UsageRecord): boolean {
    return this.add({ kind: 'record', record });
  }

  /** Queues the commit of reserved work (retried like a record: a repeat is answered as a duplicate). */
  enqueueCommit(commit: UsageCommit): boolean {
    return this.add({ kind: 'commit', commit });
  }

  /** Queues the release of a hold whose work failed. */
  enqueueRelease(release: UsageRelease): boolean {
    return this.add({ kind: 'release', release });
  }

  private add(job: UsageJob): boolean {
    if (this.closed || this.pending >= this.maxQueue) {
      this.drop(job, this.closed ? 'the recorder is closed' : `the queue is full (${this.maxQueue})`);
      return false;
    }
    this.ready.push({ job, attempts: 0, dueAt: Date.now() });
    this.pump();
    return true;
  }

  /**
   * Sends every pending record now, retries included, and waits until the queue is empty or `timeoutMs`
   * (default 10 s) has passed. Failures keep their back-off and attempt limit.
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    for (const entry of this.delayed) {
      this.delayed.delete(entry);
      this.ready.push(entry);
    }
    this.pump();
    await this.untilIdle(options.timeoutMs ?? 10_000);
    return { pending: this.pending };
  }

  /**
   * For shutdown: accepts nothing more, flushes, then stops. Records still pending are logged one by one
   * (account, metric, quantity, idempotency key) as lost, and counted as dropped.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    this.closed = true;
    const result = await this.flush(options);
    this.stopped = true;
    this.clearTimer();
    // Records still in flight finish on their own: recorded, or dropped and logged if they fail.
    const lost = [...this.ready, ...this.delayed];
    this.ready.length = 0;
    this.delayed.clear();
    for (const entry of lost) this.drop(entry.job, 'still pending when the recorder closed');
    return result;
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.ready.length > 0) {
      const entry = this.ready.shift() as Entry;
      this.inFlight += 1;
      void this.attempt(entry).finally(() => {
        this.inFlight -= 1;
        this.pump();
        this.notifyIfIdle();
      });
    }
    this.notifyIfIdle();
  }

  private async attempt(entry: Entry): Promise<void> {
    entry.attempts += 1;
    const { job } = entry;
    try {
      if (job.kind === 'release') {
        const { reservationId, accountId } = job.release;
        await this.requireMethod('releaseUsage')({ reservationId, accountId });
        this.counters.released += 1;
        return;
      }
      const result =
        job.kind === 'record'
          ? await this.client.recordUsage(job.record)
          : await this.requireMethod('commitUsage')({
              reservationId: job.commit.reservationId,
              quantity: job.commit.quantity,
              accountId: job.commit.accountId,
            });
      if (!result.duplicate) {
        this.counters.recorded += 1;
        return;
      }
      this.counters.duplicates += 1;
      // On a retry a duplicate is expected: an earlier attempt got through and only its answer was lost. On a
      // first attempt it means the key was used by an earlier request: a client's retry, or a client reusing a
      // key to have its requests served and counted once. The work was done again, so it is worth seeing.
      if (entry.attempts === 1)
        this.logger.warn(
          describeJob(job),
          job.kind === 'record'
            ? 'usage not counted: its idempotency key was recorded before (a retried request was served again)'
            : 'usage not counted: its reservation was committed before (a retried request was served again)',
        );
    } catch (error) {
      this.fail(entry, error);
    }
  }

  private requireMethod<Name extends 'commitUsage' | 'releaseUsage'>(name: Name): BillingClient[Name] {
    const method = this.client[name];
    if (!method) throw new Error(`the recorder's client has no ${name}`);
    return method.bind(this.client) as BillingClient[Name];
  }

  private fail(entry: Entry, error: unknown): void {
    const { job } = entry;
    const code = error instanceof BillingClientError ? error.code : 'UNEXPECTED';
    const message = error instanceof Error ? error.message : String(error);
    if (job.kind === 'record' && code === 'USAGE_LIMIT_EXCEEDED') {
      // The check allowed the request, then other requests of the account used up the limit before this one
      // was recorded. The request has been served; the service counts nothing past a hard limit, and repeating
      // the record could never succeed, so it is logged for whoever reconciles and not retried.
      this.counters.overLimit += 1;
      this.logger.warn(
        { ...describeJob(job), code },
        'usage over the limit after the check allowed the request (a race): not recorded, not retried',
      );
      return;
    }
    const retryable =
      job.kind === 'record'
        ? !(error instanceof BillingClientError) || error.retryable
        : !PERMANENT_COMMIT_CODES.has(code) && (!(error instanceof BillingClientError) || error.retryable);
    const attempts = job.kind === 'release' ? RELEASE_ATTEMPTS : this.maxAttempts;
    if (!retryable || entry.attempts >= attempts || this.stopped) {
      const why = !retryable
        ? `${code} is permanent`
        : this.stopped
          ? 'failed after the recorder closed'
          : `${entry.attempts} attempts`;
      this.drop(job, `${why}: ${message}`, code, entry.attempts);
      return;
    }
    const delay = this.backoff(entry.attempts);
    entry.dueAt = Date.now() + delay;
    this.delayed.add(entry);
    this.counters.retries += 1;
    this.logger.warn(
      { ...describeJob(job), code, attempts: entry.attempts, retryInMs: delay },
      `usage ${job.kind} failed (${message}); retrying with the same ${job.kind === 'record' ? 'idempotency key' : 'reservation'}`,
    );
    this.schedule();
  }

  /** Exponential with equal jitter: half the step fixed, half random, so retries of an outage spread out. */
  private backoff(attempts: number): number {
    const step = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (attempts - 1));
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  private schedule(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.delayed) next = Math.min(next, entry.dueAt);
    if (next === Number.POSITIVE_INFINITY || next >= this.timerDueAt) return;
    this.clearTimer();
    this.timerDueAt = next;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - Date.now()));
    // A retry waiting must not keep the process alive: shutdown goes through close().
    this.timer.unref?.();
  }

  private onTimer(): void {
    this.timer = null;
    this.timerDueAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const entry of this.delayed) {
      if (entry.dueAt <= now) {
        this.delayed.delete(entry);
        this.ready.push(entry);
      }
    }
    this.pump();
    this.schedule();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = Number.POSITIVE_INFINITY;
  }

  private drop(job: UsageJob, why: string, code?: string, attempts?: number): void {
    if (job.kind === 'release') {
      // Nothing is lost: the hold expires by itself.
      this.logger.warn(
        { ...describeJob(job), code, attempts },
        `hold not released (${why}): it expires by itself`,
      );
      return;
    }
    this.counters.dropped += 1;
    this.logger.error({ ...describeJob(job), code, attempts }, `usage ${job.kind} lost: ${why}`);
  }

  private untilIdle(timeoutMs: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(deadline);
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== done);
        resolve();
      };
      const deadline = setTimeout(done, timeoutMs);
      this.idleWaiters.push(done);
    });
  }

  private notifyIfIdle(): void {
    if (this.pending > 0) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }
}

function describeJob(job: UsageJob): Record<string, unknown> {
  if (job.kind === 'commit') {
    const { accountId, metric, quantity, reservationId } = job.commit;
    return { accountId, metric, quantity, reservationId };
  }
  if (job.kind === 'release') {
    const { accountId, metric, reservationId } = job.release;
    return { accountId, metric, reservationId };
  }
  const { record } = job;
  return {
    accountId: record.accountId,
    metric: record.metric,
    quantity: record.quantity,
    idempotencyKey: record.idempotencyKey,
    occurredAt: record.occurredAt?.toISOString(),
  };
}
