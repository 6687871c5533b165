/** One request's own answer from a group: its result, or its own error (which fails no other request). */
export type Settled<Result> = { ok: true; value: Result } | { ok: false; error: unknown };

/** Writes a whole group in one transaction and answers each request, in the order given. */
export type GroupFlush<Request, Result> = (requests: Request[]) => Promise<Array<Settled<Result>>>;

interface Waiting<Request, Result> {
  request: Request;
  resolve: (value: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * A second group allowed in flight when the one in flight is late, over keys it does not hold (issue 17, ADR
 * 0029 amended 2026-12-07): with one group at a time a slow one (a backend not scheduled, a commit's flush)
 * delays every request queued behind it, though most of them are of other accounts.
 */
export interface LateOverlap<Request> {
  /** What must stay in order (an account): a request whose key is in a group in flight waits for that group. */
  keyOf: (request: Request) => string;
  /** How long the group in flight may take before a second one starts beside it (ms). */
  lateAfterMs: number;
}

interface InFlight {
  size: number;
  keys: ReadonlySet<string>;
  startedAt: number;
}

/**
 * Group commit: requests that arrive while a group is being written wait and go out together in the next one,
 * so N concurrent writers share one transaction (one fsync) instead of paying one each. There is no timer: an
 * idle committer writes the first request at once, alone, and groups form only under load, as large as the
 * load makes them (bounded by `maxGroup`). Each caller is answered when its group's flush returns, that is after
 * its COMMIT: a crash loses only requests nobody was answered for, which their callers retry. One group is in
 * flight at a time, or two with `overlap` while the first is late (`LateOverlap`).
 */
export class GroupCommitter<Request, Result> {
  private readonly queue: Array<Waiting<Request, Result>> = [];
  private readonly inFlight: InFlight[] = [];
  /** Wakes `pump` when the group in flight becomes late (only with `overlap`, only while requests wait). */
  private lateTimer: NodeJS.Timeout | null = null;
  private groups = 0;
  private requests = 0;

  /** @param onGroup told each group's size as it goes out (the group-size metric). */
  constructor(
    private readonly flush: GroupFlush<Request, Result>,
    private readonly maxGroup: number,
    private readonly onGroup: (size: number) => void = () => undefined,
    private readonly overlap?: LateOverlap<Request>,
  ) {
    if (!Number.isSafeInteger(maxGroup) || maxGroup < 1) throw new Error('maxGroup must be at least 1');
  }

  submit(request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  /** Requests waiting or in the groups being written: how busy this committer is (to pick the least busy of several). */
  load(): number {
    return this.queue.length + this.inFlight.reduce((sum, group) => sum + group.size, 0);
  }

  /** Groups written and requests answered so far (monitoring, and the tests' proof of grouping). */
  stats(): { groups: number; requests: number } {
    return { groups: this.groups, requests: this.requests };
  }

  /** Starts a group if none is in flight, or a second one if the one in flight is late (else wakes up then). */
  private pump(): void {
    if (this.queue.length === 0) return;
    if (this.inFlight.length === 0) {
      this.start();
      return;
    }
    const [first] = this.inFlight;
    if (!this.overlap || !first || this.inFlight.length > 1 || this.lateTimer) return;
    const age = performance.now() - first.startedAt;
    if (age >= this.overlap.lateAfterMs) {
      this.start();
      return;
    }
    this.lateTimer = setTimeout(() => {
      this.lateTimer = null;
      this.pump();
    }, this.overlap.lateAfterMs - age);
    this.lateTimer.unref();
  }

  private start(): void {
    const group = this.take();
    if (group.length === 0) return;
    const keyOf = this.overlap?.keyOf;
    const keys = new Set(keyOf ? group.map((waiting) => keyOf(waiting.request)) : []);
    const running: InFlight = { size: group.length, keys, startedAt: performance.now() };
    this.inFlight.push(running);
    this.groups += 1;
    this.requests += group.length;
    this.onGroup(group.length);
    void this.write(group).finally(() => {
      this.inFlight.splice(this.inFlight.indexOf(running), 1);
      if (this.lateTimer) clearTimeout(this.lateTimer);
      this.lateTimer = null;
      this.pump();
    });
    this.pump();
  }

  /**
   * The next group, in arrival order: every waiting request (up to `maxGroup`), except, beside a group in flight,
   * those whose key it holds (they, and so every later request of their key, wait for it: a key stays in order).
   */
  private take(): Array<Waiting<Request, Result>> {
    const keyOf = this.overlap?.keyOf;
    if (!keyOf || this.inFlight.length === 0) return this.queue.splice(0, this.maxGroup);
    const held = new Set(this.inFlight.flatMap((group) => [...group.keys]));
    const taken: Array<Waiting<Request, Result>> = [];
    const left: Array<Waiting<Request, Result>> = [];
    for (const waiting of this.queue)
      (taken.length < this.maxGroup && !held.has(keyOf(waiting.request)) ? taken : left).push(waiting);
    this.queue.splice(0, this.queue.length, ...left);
    return taken;
  }

  private async write(group: Array<Waiting<Request, Result>>): Promise<void> {
    let settled: Array<Settled<Result>>;
    try {
      settled = await this.flush(group.map((waiting) => waiting.request));
    } catch (error) {
      // The group's transaction failed as a whole (the database is away): nothing of it was written.
      for (const waiting of group) waiting.reject(error);
      return;
    }
    group.forEach((waiting, index) => {
      const outcome = settled[index];
      if (!outcome) waiting.reject(new Error('The group commit gave no answer for a request'));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
