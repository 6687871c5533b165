import { invalidRequest } from './errors';
import { Store } from './store';

/**
 * Turns stored objects into response JSON: a deep copy in which
 * - "includable" fields (e.g. `price.tiers`, `invoice.confirmation_secret`) are dropped unless
 *   the request expands them, as Stripe only returns them when asked;
 * - fields named by `expand[]` that hold an id are replaced by the object with that id
 *   (looked up in any collection of the store), recursively, up to 4 levels;
 * - lists are expanded through `data.` (`expand[]=data.customer`).
 */
/** What a Stripe id looks like: `cus_…`, `cs_test_…`, `prod_custom`. */
const ID_RE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*_[A-Za-z0-9]+$/;

export class Renderer {
  private includables = new Map<string, Map<string, ((obj: Record<string, unknown>) => unknown) | null>>();

  constructor(private readonly store: Store) {}

  /**
   * Declares that `objectType.field` is only present in responses when expanded. With
   * `compute`, the value is computed at render time (e.g. `customer.subscriptions`) instead of
   * read from the stored object.
   */
  registerIncludable(
    objectType: string,
    field: string,
    compute?: (obj: Record<string, unknown>) => unknown,
  ): void {
    let s = this.includables.get(objectType);
    if (!s) {
      s = new Map();
      this.includables.set(objectType, s);
    }
    s.set(field, compute ?? null);
  }

  /** Splits and validates `expand[]` values into paths. */
  parseExpand(expand: string[]): string[][] {
    return expand.map((e) => {
      const path = e.split('.');
      const depth = path[0] === 'data' ? path.length - 1 : path.length;
      if (depth > 4 || path.some((s) => s === '')) {
        throw invalidRequest(`You cannot expand more than 4 levels of a property. Property: ${e}`, 'expand');
      }
      return path;
    });
  }

  render(value: unknown, expand: string[] = []): unknown {
    return this.walk(value, this.parseExpand(expand));
  }

  private walk(value: unknown, paths: string[][]): unknown {
    if (Array.isArray(value)) return value.map((v) => this.walk(v, paths));
    if (typeof value !== 'object' || value === null) return value;
    const src = value as Record<string, unknown>;
    const type = typeof src.object === 'string' ? src.object : undefined;
    const incl = type ? this.includables.get(type) : undefined;
    if (type) {
      for (const p of paths) {
        if (!(p[0] in src) && !incl?.has(p[0])) {
          throw invalidRequest(`This property cannot be expanded (${p[0]}).`, 'expand');
        }
      }
    }
    const out: Record<string, unknown> = {};
    const keys = Object.keys(src);
    if (incl) {
      for (const [field, compute] of incl) {
        if (compute && !(field in src) && paths.some((p) => p[0] === field)) keys.push(field);
      }
    }
    for (const key of keys) {
      const subscription = paths.filter((p) => p[0] === key).map((p) => p.slice(1));
      if (incl?.has(key) && subscription.length === 0) continue;
      const compute = incl?.get(key);
      let v = compute ? compute(src) : src[key];
      // Expanding `a.b` expands `a` too. Only ids (and objects, null) can be expanded: Stripe's own, or one an
      // object was created with (a coupon's `id` is the caller's choice, and `promotion.coupon` still expands).
      if (subscription.length > 0) {
        if (
          v !== null &&
          v !== undefined &&
          typeof v !== 'object' &&
          !(typeof v === 'string' && (ID_RE.test(v) || this.store.findById(v)))
        ) {
          throw invalidRequest(`This property cannot be expanded (${key}).`, 'expand');
        }
        v = this.resolve(v);
      }
      out[key] = this.walk(
        v,
        subscription.filter((p) => p.length > 0),
      );
    }
    return out;
  }

  /** An id (or array of ids) replaced by the stored object(s); anything else unchanged. */
  private resolve(v: unknown): unknown {
    if (typeof v === 'string') return this.store.findById(v)?.obj ?? v;
    if (Array.isArray(v)) return v.map((x) => this.resolve(x));
    return v;
  }
}
