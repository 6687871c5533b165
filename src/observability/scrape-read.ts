/**
 * A value read from the database once per scrape, for the gauges that show it: they collect at once and share
 * the read. A failed read leaves them out of that scrape (a database outage must not take the other metrics
 * with it; /readyz reports the outage).
 */
export class ScrapeRead<T> {
  private reader: (() => Promise<T>) | null = null;
  private onError: (error: unknown) => void = () => undefined;
  private current: Promise<void> | null = null;

  constructor(
    private readonly show: (value: T) => void,
    private readonly clear: () => void,
  ) {}

  use(reader: () => Promise<T>, onError: (error: unknown) => void): void {
    this.reader = reader;
    this.onError = onError;
  }

  collect(): Promise<void> {
    const reader = this.reader;
    if (!reader) return Promise.resolve();
    // `finally` runs in a later microtask, so the promise is stored before it is cleared.
    this.current ??= this.read(reader).finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async read(reader: () => Promise<T>): Promise<void> {
    try {
      this.show(await reader());
    } catch (error) {
      this.clear();
      this.onError(error);
    }
  }
}
