import {
  BillingClientError,
  type RecordUsageInput,
  type UsageLogger,
  UsageRecorder,
  type UsageRecordResult,
} from '../../src/client';

/**
 * The usage recorder's retry queue against a scripted client and Jest's fake clock: back-off, the same
 * idempotency key on every attempt, the bound, and shutdown. The client itself is tested over real HTTP.
 */

type Outcome = 'ok' | 'duplicate' | BillingClientError;

class ScriptedClient {
  readonly calls: Array<{ at: number; input: RecordUsageInput }> = [];
  /** Answers per idempotency key, in order; the last one repeats. */
  readonly script = new Map<string, Outcome[]>();
  /** Calls that have not been answered yet, when `hold` is set. */
  readonly held: Array<() => void> = [];
  hold = false;

  recordUsage = async (input: RecordUsageInput): Promise<UsageRecordResult> => {
    this.calls.push({ at: Date.now(), input });
    if (this.hold) await new Promise<void>((release) => this.held.push(release));
    const outcomes = this.script.get(input.idempotencyKey) ?? ['ok'];
    const outcome = outcomes.length > 1 ? (outcomes.shift() as Outcome) : outcomes[0];
    if (outcome instanceof BillingClientError) throw outcome;
    return {
      duplicate: outcome === 'duplicate',
      usage: {
        metric: input.metric,
        used: 1,
        included: 100,
        remaining: 99,
        overage: 0,
        periodStart: new Date(0),
        periodEnd: new Date(1),
      },
    };
  };

  keys(): string[] {
    return this.calls.map((call) => call.input.idempotencyKey);
  }
}

class RecordingLogger implements UsageLogger {
  readonly lines: Array<{ level: string; details: object; message: string }> = [];
  warn(details: object, message: string) {
    this.lines.push({ level: 'warn', details, message });
  }
  error(details: object, message: string) {
    this.lines.push({ level: 'error', details, message });
  }
  messages(level: string): string[] {
    return this.lines.filter((line) => line.level === level).map((line) => line.message);
  }
}

const unavailable = () => new BillingClientError('NETWORK_ERROR', 'connect ECONNREFUSED');
const record = (key: string) => ({
  accountId: 'acct_a',
  metric: 'ai_requests',
  quantity: 1,
  idempotencyKey: key,
});

describe('UsageRecorder', () => {
  let client: ScriptedClient;
  let logger: RecordingLogger;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    client = new ScriptedClient();
    logger = new RecordingLogger();
  });
  afterEach(() => jest.useRealTimers());

  function recorder(options: Partial<ConstructorParameters<typeof UsageRecorder>[0]> = {}) {
    // random() = 1 makes the jittered delay the whole step: 100, 200, 400, … ms.
    return new UsageRecorder({ client, logger, initialDelayMs: 100, random: () => 1, ...options });
  }

  it('records at once and counts a duplicate answer as recorded once', async () => {
    const usage = recorder();
    client.script.set('k2', ['duplicate']);
    usage.enqueue(record('k1'));
    usage.enqueue(record('k2'));
    await jest.advanceTimersByTimeAsync(0);
    expect(client.keys()).toEqual(['k1', 'k2']);
    expect(usage.stats()).toMatchObject({ pending: 0, recorded: 1, duplicates: 1, retries: 0, dropped: 0 });
    // A duplicate on the first attempt: a request served again under a used key, worth a warning.
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        details: expect.objectContaining({ idempotencyKey: 'k2' }),
        message: expect.stringContaining('its idempotency key was recorded before'),
      },
    ]);
  });

  it('retries a failure with exponential back-off and the same idempotency key', async () => {
    const usage = recorder();
    client.script.set('k1', [unavailable(), unavailable(), unavailable(), 'ok']);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(0);
    expect(client.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(99);
    expect(client.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(client.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(200);
    await jest.advanceTimersByTimeAsync(400);
    expect(client.keys()).toEqual(['k1', 'k1', 'k1', 'k1']);
    expect(client.calls.map((call) => call.at - 1_000_000)).toEqual([0, 100, 300, 700]);
    expect(usage.stats()).toMatchObject({ pending: 0, recorded: 1, retries: 3, dropped: 0 });
    expect(logger.messages('warn')).toHaveLength(3);
  });

  it('caps the delay at maxDelayMs and spreads retries with jitter', async () => {
    const usage = recorder({ maxDelayMs: 300, random: () => 0, maxAttempts: 5 });
    client.script.set('k1', [unavailable()]);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(10_000);
    // Equal jitter with random() = 0: half of each step (100, 200, 300, 300).
    expect(client.calls.map((call) => call.at - 1_000_000)).toEqual([0, 50, 150, 300, 450]);
  });

  it('gives up after maxAttempts and logs the lost record with its key', async () => {
    const usage = recorder({ maxAttempts: 3 });
    client.script.set('k1', [unavailable()]);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(client.calls).toHaveLength(3);
    expect(usage.stats()).toMatchObject({ pending: 0, dropped: 1 });
    const lost = logger.lines.find((line) => line.level === 'error');
    expect(lost?.message).toMatch(/usage record lost: 3 attempts/);
    expect(lost?.details).toMatchObject({ accountId: 'acct_a', idempotencyKey: 'k1', quantity: 1 });
  });

  it('does not retry USAGE_LIMIT_EXCEEDED (the race after an allowed check): logs it once', async () => {
    const usage = recorder();
    client.script.set('k1', [new BillingClientError('USAGE_LIMIT_EXCEEDED', 'limit reached')]);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(client.calls).toHaveLength(1);
    expect(usage.stats()).toMatchObject({ pending: 0, overLimit: 1, retries: 0, dropped: 0 });
    expect(logger.messages('warn')).toEqual([
      'usage over the limit after the check allowed the request (a race): not recorded, not retried',
    ]);
  });

  it('drops a permanent error (BAD_USER_INPUT) at once', async () => {
    const usage = recorder();
    client.script.set('k1', [new BillingClientError('BAD_USER_INPUT', 'occurredAt is outside the period')]);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(client.calls).toHaveLength(1);
    expect(usage.stats()).toMatchObject({ dropped: 1, retries: 0 });
    expect(logger.messages('error')[0]).toMatch(/BAD_USER_INPUT is permanent/);
  });

  it('bounds the queue: past maxQueue a record is dropped and logged, not queued', async () => {
    const usage = recorder({ maxQueue: 2 });
    client.script.set('k1', [unavailable()]);
    client.script.set('k2', [unavailable()]);
    expect(usage.enqueue(record('k1'))).toBe(true);
    expect(usage.enqueue(record('k2'))).toBe(true);
    expect(usage.enqueue(record('k3'))).toBe(false);
    await jest.advanceTimersByTimeAsync(0);
    expect(usage.pending).toBe(2);
    expect(client.keys()).toEqual(['k1', 'k2']);
    expect(logger.lines.find((line) => line.level === 'error')?.details).toMatchObject({
      idempotencyKey: 'k3',
    });
  });

  it('sends no more than `concurrency` records at a time', async () => {
    const usage = recorder({ concurrency: 2 });
    client.hold = true;
    for (const key of ['k1', 'k2', 'k3']) usage.enqueue(record(key));
    await jest.advanceTimersByTimeAsync(0);
    expect(client.calls).toHaveLength(2);
    client.hold = false;
    for (const release of client.held.splice(0)) release();
    await jest.advanceTimersByTimeAsync(0);
    expect(client.keys()).toEqual(['k1', 'k2', 'k3']);
    expect(usage.stats()).toMatchObject({ pending: 0, recorded: 3 });
  });

  it('flush() sends waiting retries now and resolves once the queue is empty', async () => {
    const usage = recorder({ initialDelayMs: 30_000 });
    client.script.set('k1', [unavailable(), 'ok']);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(0);
    expect(usage.pending).toBe(1);
    const flushed = usage.flush();
    await jest.advanceTimersByTimeAsync(0);
    await expect(flushed).resolves.toEqual({ pending: 0 });
    expect(client.calls.map((call) => call.at - 1_000_000)).toEqual([0, 0]);
  });

  it('close() refuses new records, flushes until its deadline, then logs what is left as lost', async () => {
    const usage = recorder();
    client.script.set('k1', [unavailable()]);
    usage.enqueue(record('k1'));
    await jest.advanceTimersByTimeAsync(0);
    const closed = usage.close({ timeoutMs: 1000 });
    await jest.advanceTimersByTimeAsync(1000);
    await expect(closed).resolves.toEqual({ pending: 1 });
    // Retried until the deadline: at once by the flush, then at 200 and 600 ms.
    expect(client.calls.length).toBeGreaterThanOrEqual(4);
    const callsAtClose = client.calls.length;
    expect(usage.stats()).toMatchObject({ pending: 0, dropped: 1 });
    expect(usage.enqueue(record('k2'))).toBe(false);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(client.calls).toHaveLength(callsAtClose);
    expect(logger.messages('error')).toEqual([
      'usage record lost: still pending when the recorder closed',
      'usage record lost: the recorder is closed',
    ]);
  });
});
