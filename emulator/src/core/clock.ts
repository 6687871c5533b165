/**
 * The emulator's notion of "now", in Unix seconds.
 *
 * - A global offset (moved by `POST /_emulator/clock/advance`) applies to every customer that is
 *   not on a Stripe test clock.
 * - Time sources (registered by the billing engine for test clocks) may answer for a customer;
 *   the first that returns a number wins.
 * - Advance runners (registered by the billing engine) are awaited, in registration order,
 *   after the global clock moves, so advancing runs whatever time brings (renewals, trial ends).
 */
export type TimeSource = (customerId: string) => number | undefined;

export interface AdvanceWindow {
  /** Global emulator time before the advance. */
  from: number;
  /** Global emulator time after the advance. */
  to: number;
}
export type AdvanceRunner = (window: AdvanceWindow) => void | Promise<void>;

export class Clock {
  /** Seconds added to the real clock. Persisted in `store.meta.clockOffset` by the emulator. */
  offset = 0;
  private sources: TimeSource[] = [];
  private runners: AdvanceRunner[] = [];
  /** Serialises advances so two concurrent `advance` calls don't interleave runners. */
  private chain: Promise<unknown> = Promise.resolve();

  realNow(): number {
    return Math.floor(Date.now() / 1000);
  }

  /** Now for `customerId` (its test clock's frozen time if it has one), else global time. */
  now(customerId?: string | null): number {
    if (customerId) {
      for (const source of this.sources) {
        const t = source(customerId);
        if (typeof t === 'number') return t;
      }
    }
    return this.realNow() + this.offset;
  }

  addTimeSource(source: TimeSource): void {
    this.sources.push(source);
  }

  onAdvance(runner: AdvanceRunner): void {
    this.runners.push(runner);
  }

  /** Moves global time forward to `to` (never backwards) and runs the advance runners. */
  advanceTo(to: number): Promise<AdvanceWindow> {
    const run = this.chain.then(async () => {
      const from = this.now();
      const target = Math.max(from, Math.floor(to));
      this.offset += target - from;
      const window = { from, to: target };
      for (const runner of this.runners) await runner(window);
      return window;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Runs the advance runners for "no time moved", so periodic work due now gets done. */
  tick(): Promise<AdvanceWindow> {
    return this.advanceTo(this.now());
  }
}
