import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from './metric-families';
import type { GraphQLMetrics } from './metric-types';

/** Operation names become a label only if they look like names; anything else, and names past the cap, are `other`. */
const OPERATION_NAME = /^[A-Za-z0-9_]{1,64}$/;
const MAX_OPERATION_NAMES = 100;
const OPERATION_TYPES: ReadonlySet<string> = new Set(['query', 'mutation', 'subscription']);

/** GraphQL operations over HTTP and live subscriptions (the Apollo plugin and graphql-ws hooks report them). */
export function graphqlMetrics(registers: Registry[]): GraphQLMetrics {
  const operations = new Counter({
    name: 'billing_graphql_operations_total',
    help: 'GraphQL operations over HTTP, by operation name (anonymous, other), type and error code (OK without errors)',
    labelNames: ['operation', 'type', 'code'] as const,
    registers,
  });
  const operationSeconds = new Histogram({
    name: 'billing_graphql_operation_duration_seconds',
    help: 'Duration of one GraphQL operation over HTTP, by operation name and type',
    labelNames: ['operation', 'type'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const subscriptions = new Gauge({
    name: 'billing_graphql_subscriptions_active',
    help: 'GraphQL subscriptions live on this instance (graphql-ws)',
    registers,
  });
  subscriptions.set(0);
  const operationLabel = boundedOperationNames();
  // Bounded: operation labels are capped (MAX_OPERATION_NAMES), types and codes are fixed sets. The labelled
  // children are kept (prom-client would otherwise look up and validate the label set again on every request), keyed by operation,
  // then type, then code: three lookups, and no key string built for every request.
  const operationChildren = new Map<string, Map<string, Map<string, OperationChildren>>>();
  const childrenOf = (operation: string, type: string, code: string): OperationChildren => {
    const byType = mapAt(operationChildren, operation);
    const byCode = mapAt(byType, type);
    let children = byCode.get(code);
    if (!children) {
      children = {
        count: operations.labels({ operation, type, code }),
        seconds: operationSeconds.labels({ operation, type }),
      };
      byCode.set(code, children);
    }
    return children;
  };
  return {
    operation: (name, type, code, seconds) => {
      const children = childrenOf(operationLabel(name), OPERATION_TYPES.has(type) ? type : 'unknown', code);
      children.count.inc();
      children.seconds.observe(seconds);
    },
    subscriptionStarted: () => subscriptions.inc(),
    subscriptionEnded: () => subscriptions.dec(),
  };
}

interface OperationChildren {
  count: { inc(): void };
  seconds: { observe(value: number): void };
}

function mapAt<Value>(maps: Map<string, Map<string, Value>>, key: string): Map<string, Value> {
  let map = maps.get(key);
  if (!map) {
    map = new Map();
    maps.set(key, map);
  }
  return map;
}

/** The label of an operation name: itself while fewer than MAX_OPERATION_NAMES were seen, else `other`. */
function boundedOperationNames(): (name: string | null | undefined) => string {
  const seenNames = new Set<string>();
  return (name) => {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (seenNames.has(name)) return name;
    if (seenNames.size >= MAX_OPERATION_NAMES) return 'other';
    seenNames.add(name);
    return name;
  };
}
