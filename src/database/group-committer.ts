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
 * Group commit: requests that arrive while a group is being written wait and go out together in the next one,
 * so N concurrent writers share one transaction (one fsync) instead of paying one each. There is no timer: an
 * idle committer writes the first request at once, alone, and groups form only under load, as large as the
 * load makes them (bounded by `maxGroup`). Each caller is answered when its group's flush returns, that is after
 * its COMMIT: a crash loses only requests nobody was answered for, which their callers retry.
 */
export class GroupCommitter<Request, Result> {
  private readonly queue: Array<Waiting<Request, Result>> = [];
  private flushing = false;
  /** The size of the group being written (0 when none). */
  private inFlight = 0;
  private groups = 0;
  private requests = 0;

  /** @param onGroup told each group's size as it goes out (the group-size metric). */
  constructor(
    private readonly flush: GroupFlush<Request, Result>,
    private readonly maxGroup: number,
    private readonly onGroup: (size: number) => void = () => undefined,
  ) {
    if (!Number.isSafeInteger(maxGroup) || maxGroup < 1) throw new Error('maxGroup must be at least 1');
  }

  submit(request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  /** Requests waiting or in the group being written: how busy this committer is (to pick the least busy of several). */
  load(): number {
    return this.queue.length + this.inFlight;
  }

  /** Groups written and requests answered so far (monitoring, and the tests' proof of grouping). */
  stats(): { groups: number; requests: number } {
    return { groups: this.groups, requests: this.requests };
  }

  /** Writes groups one after another until nobody waits: one transaction in flight per committer. */
  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.maxGroup);
        this.groups += 1;
        this.requests += group.length;
        this.onGroup(group.length);
        this.inFlight = group.length;
        await this.write(group);
        this.inFlight = 0;
      }
    } finally {
      this.flushing = false;
    }
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
