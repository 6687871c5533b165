/**
 * Runs a pass again and again, each after the delay `nextDelayMs` asks for then; `stop()` waits for the pass in
 * progress. Neither function may throw: the caller logs its own failures and picks a delay.
 */
export class PassSchedule {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private scheduling: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly nextDelayMs: () => Promise<number>,
    private readonly pass: () => Promise<void>,
  ) {}

  /** Whether `stop()` was called: a pass in progress finishes what it is doing and takes nothing more. */
  get stopped(): boolean {
    return this.stopping;
  }

  start(): void {
    if (this.scheduling || this.stopping) return;
    this.scheduleNext();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.scheduling;
    await this.running;
  }

  private scheduleNext(): void {
    this.scheduling = this.nextDelayMs().then((delayMs) => {
      if (this.stopping) return;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.running = this.pass().finally(() => {
          this.running = null;
          if (!this.stopping) this.scheduleNext();
        });
      }, delayMs);
      // The schedule never keeps the process alive on its own.
      this.timer.unref();
    });
  }
}
