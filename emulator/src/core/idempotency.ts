/**
 * Stripe's idempotency for POST requests: the first response to a key is stored and replayed
 * (with `Idempotent-Replayed: true`) to later requests with the same key and parameters;
 * other parameters are an `idempotency_error`; a request while the first is still running
 * gets 409. Keys are scoped to the API key and kept 24 h.
 */
export interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
  requestId: string;
}

interface Entry {
  fingerprint: string;
  at: number;
  response: StoredResponse | null; // null while in flight
}

const TTL_MS = 24 * 3600 * 1000;

export type IdempotencyCheck =
  | { kind: 'new' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in_flight' };

export class IdempotencyCache {
  private entries = new Map<string, Entry>();

  /** Checks the key and, when new, marks it in flight. */
  begin(scope: string, key: string, fingerprint: string): IdempotencyCheck {
    const id = `${scope}\u0000${key}`;
    const now = Date.now();
    const e = this.entries.get(id);
    if (e && now - e.at < TTL_MS) {
      if (e.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (!e.response) return { kind: 'in_flight' };
      return { kind: 'replay', response: e.response };
    }
    this.entries.set(id, { fingerprint, at: now, response: null });
    return { kind: 'new' };
  }

  /** Stores the response, or forgets the key (`response` null) when Stripe would not save it. */
  finish(scope: string, key: string, response: StoredResponse | null): void {
    const id = `${scope}\u0000${key}`;
    const e = this.entries.get(id);
    if (!e) return;
    if (response) e.response = response;
    else this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** A stable text for "same parameters": keys sorted at every level. */
export function fingerprint(method: string, path: string, params: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${method} ${path} ${JSON.stringify(canon(params))}`;
}
