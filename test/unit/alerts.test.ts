import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { BillingMetrics } from '../../src/observability/metrics';
import { METRIC_KEYS } from '../../src/services/plans/plan.types';

/** ops/alerts.yml parses, every rule is complete, and every metric it names is one the service exposes. */

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);
/** Series Prometheus itself makes for every target, not the service. */
const PROMETHEUS_SERIES = new Set(['up']);

/** The metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\boffset\s+\w+/g, ''); // offsets
  const words = [...stripped.matchAll(/(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?/g)]
    .filter((match) => !match[2]) // followed by '(': a function
    .map((match) => match[1] as string)
    .filter((word) => !PROMQL_WORDS.has(word.toLowerCase()));
  return [...new Set(words)];
}

function exposedNames(): Set<string> {
  const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS, defaultMetrics: true });
  const names = new Set<string>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  metrics.close();
  return names;
}

describe('ops/alerts.yml', () => {
  const document = parse(readFileSync(resolve(__dirname, '../../ops/alerts.yml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Rule[] }>;
  };
  const rules = document.groups.flatMap((group) => group.rules);

  it('has the alerts the runbook documents, each complete', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'BillingWebhookFailureRate',
        'BillingWebhookInboxBacklogOld',
        'BillingPaymentFailureSpike',
        'BillingStripeApiErrors',
      ]),
    );
    const docs = readFileSync(resolve(__dirname, '../../docs/monitoring.md'), 'utf8');
    for (const rule of rules) {
      expect(rule).toMatchObject({
        alert: expect.stringMatching(/^Billing[A-Za-z]+$/),
        expr: expect.any(String),
        labels: { severity: expect.stringMatching(/^(page|warning)$/) },
        annotations: { summary: expect.any(String), runbook: expect.any(String) },
      });
      expect(rule.annotations?.runbook).toContain(`docs/monitoring.md#${rule.alert?.toLowerCase()}`);
      expect(docs).toContain(`### ${rule.alert}`);
    }
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
  });

  it('names only metrics the service exposes', () => {
    const exposed = exposedNames();
    const named = rules.flatMap((rule) => metricNames(rule.expr ?? ''));
    expect(named).toEqual(expect.arrayContaining(['billing_webhook_events_total', 'billing_payments_total']));
    expect(named.filter((name) => !exposed.has(name) && !PROMETHEUS_SERIES.has(name))).toEqual([]);
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b(c)"}[5m]))) > 5 and absent(y) or z offset 1h',
      ),
    ).toEqual(['x_bucket', 'y', 'z']);
  });
});
