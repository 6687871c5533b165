import type { Metric, MetricValueWithName, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** One label set's observations: how many fell in each bucket (not cumulative), their sum and their count. */
export class HistogramChild {
  private readonly inBucket: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Labels,
  ) {
    this.inBucket = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    let index = 0;
    while (index < this.bounds.length && value > (this.bounds[index] as number)) index++;
    if (index < this.bounds.length) this.inBucket[index] = (this.inBucket[index] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  /** The cumulative count at each bound, as Prometheus writes `_bucket{le=...}`. */
  cumulative(): number[] {
    let total = 0;
    return Array.from(this.inBucket, (count) => {
      total += count;
      return total;
    });
  }

  reset(): void {
    this.inBucket.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * A Prometheus histogram whose labelled children are plain objects: an observation is a bucket search and three
 * additions. prom-client's `Histogram` hashes and validates the label set and allocates on every `observe`, even
 * through a child from `labels()` (about 3 µs of the no-op's CPU per request, bench/README.md 2026-12-07); the
 * label sets here are fixed when a child is made. On a prom-client `Registry` it exposes exactly what
 * prom-client's histogram would (`_bucket` per bound and `+Inf`, `_sum`, `_count`, the labels in the same order).
 */
export class PlainHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children: HistogramChild[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registers: Registry[],
  ) {
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** A new child for this label set (the caller keeps it: one per label set). */
  child(labels: Labels): HistogramChild {
    const made = new HistogramChild(this.bounds, labels);
    this.children.push(made);
    return made;
  }

  reset(): void {
    for (const child of this.children) child.reset();
  }

  /** What prom-client's registry writes: the `le` label first, the child's labels after it. */
  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<MetricValueWithName<string> & { sharedLabels: Labels }>;
  }> {
    const values: Array<MetricValueWithName<string> & { sharedLabels: Labels }> = [];
    const bucket = `${this.name}_bucket`;
    for (const child of this.children) {
      const sharedLabels = child.labels;
      child.cumulative().forEach((value, index) => {
        values.push({
          labels: { le: this.bounds[index] as number },
          sharedLabels,
          value,
          metricName: bucket,
        });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: child.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The same values with each child's labels merged in (prom-client's `get()`, `getMetricsAsJSON`). */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...value }) => ({
        ...value,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
