import { BillingMetrics } from '../../src/observability/metrics';
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

  it('keeps two instances apart', async () => {
    const first = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    const second = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    first.payments.outcome('failed');
    expect(await text(first)).toContain('billing_payments_total{outcome="failed"} 1');
    expect(await text(second)).toContain('billing_payments_total{outcome="failed"} 0');
  });
});
