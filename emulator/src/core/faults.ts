import { invalidRequest } from './errors';

/**
 * Injected failures for API requests (`/v1/…`, `/v2/…`), set with `POST /_emulator/faults`.
 * A rule fails the next `count` matching requests, or each with probability `rate`.
 * `timeout` holds the socket without answering for `timeout_ms`, then drops it.
 */
export interface FaultRule {
  status: 500 | 429 | 'timeout';
  count: number | null;
  rate: number | null;
  path: string | null;
  /** Only requests of this HTTP method (e.g. `POST`: a create, not the list at the same path); null: any. */
  method: string | null;
  timeout_ms: number;
}

export class Faults {
  rules: FaultRule[] = [];

  constructor(private readonly defaultTimeoutMs: number) {}

  add(body: Record<string, unknown>): FaultRule {
    const status = body.status === 'timeout' ? 'timeout' : Number(body.status);
    if (status !== 500 && status !== 429 && status !== 'timeout') {
      throw invalidRequest("status must be 500, 429 or 'timeout'", 'status');
    }
    const count = body.count === undefined ? null : Number(body.count);
    const rate = body.rate === undefined ? null : Number(body.rate);
    if (count === null && rate === null) throw invalidRequest('give count or rate', 'count');
    if (count !== null && (!Number.isInteger(count) || count < 1)) {
      throw invalidRequest('count must be a positive integer', 'count');
    }
    if (rate !== null && !(rate >= 0 && rate <= 1)) throw invalidRequest('rate must be in 0..1', 'rate');
    const timeout = body.timeout_ms === undefined ? this.defaultTimeoutMs : Number(body.timeout_ms);
    const rule: FaultRule = {
      status,
      count,
      rate,
      path: typeof body.path === 'string' && body.path ? body.path : null,
      method: typeof body.method === 'string' && body.method ? body.method.toUpperCase() : null,
      timeout_ms: Number.isFinite(timeout) && timeout >= 0 ? timeout : this.defaultTimeoutMs,
    };
    this.rules.push(rule);
    return rule;
  }

  /** The fault to apply to this request, if any (consumes one from a counted rule). */
  take(path: string, method?: string): FaultRule | undefined {
    for (const rule of this.rules) {
      if (rule.path && !path.startsWith(rule.path)) continue;
      if (rule.method && rule.method !== method) continue;
      if (rule.count !== null) {
        if (rule.count <= 0) continue;
        rule.count--;
        if (rule.count === 0) this.rules = this.rules.filter((r) => r !== rule);
        return rule;
      }
      if (rule.rate !== null && Math.random() < rule.rate) return rule;
    }
    return undefined;
  }

  clear(): void {
    this.rules = [];
  }
}
