import { Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from '../../src/observability/metric-families';
import { BillingMetrics } from '../../src/observability/metrics';
import { PlainHistogram } from '../../src/observability/plain-histogram';
import { METRIC_KEYS } from '../../src/services/plans/plan.types';

/** The registry's bounded labels and the inbox read at scrape time, without a running service. */
describe('BillingMetrics', () => {
  async function text(metrics: BillingMetrics): Promise<string> {
    return (await metrics.exposition()).body;
  }

  it('keeps operation names to a bounded set', async () => {
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    for (let index = 0; index < 105; index++) metrics.graphql.operation(`Op${index}`, 'query', 'OK', 0.01);
    metrics.graphql.operation('Op0', 'query', 'OK', 0.01);
    metrics.graphql.operation('has space', 'query', 'OK', 0.01);
    metrics.graphql.operation(null, 'weird', 'OK', 0.01);
    const body = await text(metrics);
    expect(body).toContain('billing_graphql_operations_total{operation="Op0",type="query",code="OK"} 2');
    expect(body).toContain('billing_graphql_operations_total{operation="Op99",type="query",code="OK"} 1');
    expect(body).not.toContain('operation="Op100"');
    // Five names past the cap, and one that is not a name.
    expect(body).toContain('billing_graphql_operations_total{operation="other",type="query",code="OK"} 6');
    expect(body).toContain(
      'billing_graphql_operations_total{operation="anonymous",type="unknown",code="OK"} 1',
    );
  });

  it('reads the inbox backlog once per scrape, and leaves it out when the read fails', async () => {
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    let reads = 0;
    let fail = false;
    const errors: unknown[] = [];
    metrics.readInboxWith(
      async () => {
        reads += 1;
        if (fail) throw new Error('database down');
        return [
          { state: 'failed', count: 2, oldestAgeSeconds: 42.5 },
          { state: 'dead', count: 1, oldestAgeSeconds: 300_000 },
        ];
      },
      (error) => errors.push(error),
    );
    const body = await text(metrics);
    expect(reads).toBe(1);
    expect(body).toContain('billing_webhook_inbox_events{state="failed"} 2');
    expect(body).toContain('billing_webhook_inbox_events{state="pending"} 0');
    expect(body).toContain('billing_webhook_inbox_oldest_age_seconds{state="failed"} 42.5');
    expect(body).toContain('billing_webhook_inbox_oldest_age_seconds{state="pending"} 0');
    expect(body).toContain('billing_webhook_inbox_events{state="dead"} 1');
    expect(body).toContain('billing_webhook_inbox_oldest_age_seconds{state="dead"} 300000');

    fail = true;
    const failed = await text(metrics);
    expect(reads).toBe(2);
    expect(errors).toHaveLength(1);
    expect(failed).not.toMatch(/^billing_webhook_inbox_events\{/m);
    expect(failed).toContain('billing_payments_total{outcome="succeeded"} 0');
  });

  it('reads the pending overage reports once per scrape, and leaves them out when the read fails', async () => {
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    let reads = 0;
    let fail = false;
    const errors: unknown[] = [];
    metrics.readOverageReportsWith(
      async () => {
        reads += 1;
        if (fail) throw new Error('database down');
        return { pending: 3, stuck: 1, oldestAgeSeconds: 5400 };
      },
      (error) => errors.push(error),
    );
    const body = await text(metrics);
    expect(reads).toBe(1);
    expect(body).toContain('billing_overage_reports{state="pending"} 3');
    expect(body).toContain('billing_overage_reports{state="stuck"} 1');
    expect(body).toContain('billing_overage_report_oldest_age_seconds{state="pending"} 5400');

    fail = true;
    const failed = await text(metrics);
    expect(reads).toBe(2);
    expect(errors).toHaveLength(1);
    expect(failed).not.toMatch(/^billing_overage_reports\{/m);
    expect(failed).not.toMatch(/^billing_overage_report_oldest_age_seconds\{/m);
    expect(failed).toContain('billing_payments_total{outcome="succeeded"} 0');
  });

  it('counts live subscriptions up and down, and Stripe calls with their latency', async () => {
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    metrics.graphql.subscriptionStarted();
    metrics.graphql.subscriptionStarted();
    metrics.graphql.subscriptionEnded();
    metrics.stripe.call('customers.create', 'api_error', 0.3);
    const body = await text(metrics);
    expect(body).toContain('billing_graphql_subscriptions_active 1');
    expect(body).toContain('billing_stripe_requests_total{method="customers.create",outcome="api_error"} 1');
    expect(body).toContain(
      'billing_stripe_request_duration_seconds_bucket{le="0.5",method="customers.create"} 1',
    );
  });

  it('exposes the plain histogram exactly as prom-client’s histogram, and operations counted since the last scrape', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({
      name: 'h_seconds',
      help: 'help',
      labelNames: ['operation', 'type'] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [theirs],
    });
    const plain = new PlainHistogram('h_seconds', 'help', LATENCY_BUCKETS_SECONDS, [ours]);
    const children = {
      a: plain.child({ operation: 'A', type: 'query' }),
      b: plain.child({ operation: 'B', type: 'mutation' }),
    };
    const observations: Array<['a' | 'b', number]> = [
      ['a', 0.001],
      ['a', 0.005],
      ['a', 0.0051],
      ['b', 0.7],
      ['a', 30],
      ['a', 31],
      ['b', 0],
      ['b', 2.5],
    ];
    for (const [key, seconds] of observations) {
      reference.observe(
        key === 'a' ? { operation: 'A', type: 'query' } : { operation: 'B', type: 'mutation' },
        seconds,
      );
      children[key].observe(seconds);
    }
    const exposed = await ours.metrics();
    expect(exposed).toBe(await theirs.metrics());
    expect(exposed).toContain('h_seconds_bucket{le="0.005",operation="A",type="query"} 2');
    expect(exposed).toContain('h_seconds_bucket{le="+Inf",operation="A",type="query"} 5');
    // The same values, labels merged in (prom-client adds its exemplars, none here).
    const withoutExemplars = (await theirs.getMetricsAsJSON()).map((metric) => ({
      ...metric,
      values: metric.values.map((entry) => {
        const { exemplar: _dropped, ...value } = entry as typeof entry & { exemplar?: unknown };
        return value;
      }),
    }));
    expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars);

    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    metrics.graphql.operation('Op', 'query', 'OK', 0.02);
    metrics.graphql.operation('Op', 'query', 'OK', 0.02);
    expect(await text(metrics)).toContain(
      'billing_graphql_operations_total{operation="Op",type="query",code="OK"} 2',
    );
    metrics.graphql.operation('Op', 'query', 'OK', 0.02);
    const body = await text(metrics);
    expect(body).toContain('billing_graphql_operations_total{operation="Op",type="query",code="OK"} 3');
    expect(body).toContain(
      'billing_graphql_operation_duration_seconds_bucket{le="0.025",operation="Op",type="query"} 3',
    );
    expect(body).toContain('billing_graphql_operation_duration_seconds_count{operation="Op",type="query"} 3');
  });

  it('keeps two instances apart', async () => {
    const first = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    const second = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    first.payments.outcome('failed');
    expect(await text(first)).toContain('billing_payments_total{outcome="failed"} 1');
    expect(await text(second)).toContain('billing_payments_total{outcome="failed"} 0');
  });
});
