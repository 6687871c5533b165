import { invalidInteger, invalidRequest, missingParam } from './errors';

/**
 * Decoded request parameters. Form bodies and query strings only carry strings;
 * `a[0]=x&a[1]=y` becomes an array, `a[b]=x` a nested object, `a[]=x` an appended array item.
 * JSON bodies (v2) are normalised to the same shape (numbers/booleans become strings).
 */
export type ParamValue = string | ParamValue[] | Params;
export interface Params {
  [key: string]: ParamValue;
}

/** Splits `items[0][price]` into `['items', '0', 'price']`; `expand[]` into `['expand', '']`. */
function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/g;
  for (let m = re.exec(key.slice(open)); m; m = re.exec(key.slice(open))) parts.push(m[1]);
  return parts;
}

function isParams(v: ParamValue | undefined): v is Params {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys that hold free-form hashes: numeric keys there are keys, not array indices. */
const HASH_KEYS = new Set(['metadata', 'payload']);

/** Turns objects whose keys are all indices (`{0:…,1:…}`) into arrays, recursively. */
function arrayify(value: ParamValue, parentKey: string): ParamValue {
  if (Array.isArray(value)) return value.map((v) => arrayify(v, ''));
  if (!isParams(value)) return value;
  const keys = Object.keys(value);
  if (!HASH_KEYS.has(parentKey) && keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => arrayify(value[String(k)], ''));
  }
  const out: Params = {};
  for (const k of keys) out[k] = arrayify(value[k], k);
  return out;
}

/** Decodes `application/x-www-form-urlencoded` (body or query string) into nested params. */
export function decodeForm(text: string): Params {
  const root: Params = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const parts = splitKey(rawKey);
    let node: Params = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i];
      const nextIsAppend = parts[i + 1] === '';
      const existing = node[part];
      if (nextIsAppend) {
        const arr = Array.isArray(existing) ? existing : [];
        node[part] = arr;
        if (i + 1 === parts.length - 1) {
          arr.push(value);
          node = root; // done
          break;
        }
        // `a[][b]=…` is not something the SDK sends; treat the remainder as a new element.
        const child: Params = {};
        arr.push(child);
        node = child;
        i++;
        continue;
      }
      if (!isParams(existing)) node[part] = {};
      node = node[part] as Params;
    }
    const last = parts[parts.length - 1];
    if (last !== '' || parts.length === 1) node[last] = value;
  }
  return arrayify(root, '') as Params;
}

/** Normalises a parsed JSON body to Params (primitives become strings, null becomes ''). */
export function fromJson(value: unknown): ParamValue {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(fromJson);
  if (typeof value === 'object') {
    const out: Params = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromJson(v);
    return out;
  }
  return String(value);
}

/**
 * Typed, validating access to params. Errors name the parameter as Stripe does
 * (`recurring[interval]`), so a reader for a nested hash carries its prefix.
 */
export class ParamReader {
  constructor(
    readonly raw: Params,
    private readonly prefix = '',
  ) {}

  name(key: string): string {
    return this.prefix ? `${this.prefix}[${key}]` : key;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  str(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidRequest(`Invalid string: ${this.name(key)}`, this.name(key));
    return v;
  }

  reqStr(key: string): string {
    const v = this.str(key);
    if (v === undefined || v === '') throw missingParam(this.name(key));
    return v;
  }

  /** `''` means "unset" for optional fields Stripe lets you clear. */
  strOrNull(key: string): string | null | undefined {
    const v = this.str(key);
    if (v === '') return null;
    return v;
  }

  /**
   * Every integer parameter (`limit`, `amount`, `quantity`, timestamps, …) is read here, so a
   * non-integer is Stripe's 400 `parameter_invalid_integer` everywhere ("Invalid integer: 1.5").
   */
  int(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw invalidInteger(v, this.name(key));
    return Number(v);
  }

  /**
   * A timestamp that may instead be one of `keywords` (`trial_end=now`, `start_date=now`); anything
   * else that is not an integer is the same `parameter_invalid_integer` as `int`.
   */
  intOr<K extends string>(key: string, keywords: readonly K[]): number | K | undefined {
    const v = this.str(key);
    if (v !== undefined && (keywords as readonly string[]).includes(v)) return v as K;
    return this.int(key);
  }

  reqInt(key: string): number {
    const v = this.int(key);
    if (v === undefined) throw missingParam(this.name(key));
    return v;
  }

  /** Decimal strings such as `unit_amount_decimal`; kept as strings like Stripe's JSON. */
  decimal(key: string): string | undefined {
    const v = this.str(key);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+(\.\d+)?$/.test(v)) throw invalidRequest(`Invalid decimal: ${v}`, this.name(key));
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.str(key);
    if (v === undefined || v === '') return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw invalidRequest(`Invalid boolean: ${v}`, this.name(key));
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const v = this.str(key);
    if (v === undefined || v === '') return undefined;
    if (!(allowed as readonly string[]).includes(v)) {
      throw invalidRequest(`Invalid ${this.name(key)}: must be one of ${allowed.join(', ')}`, this.name(key));
    }
    return v as T;
  }

  /** A nested hash as a reader, or undefined when absent (or sent as `''` to clear it). */
  obj(key: string): ParamReader | undefined {
    const v = this.raw[key];
    if (v === undefined || v === '') return undefined;
    if (typeof v === 'string' || Array.isArray(v)) {
      throw invalidRequest(`Invalid hash`, this.name(key));
    }
    return new ParamReader(v, this.name(key));
  }

  /** An array of hashes (`items[0][price]`), each as a reader named `items[i]`. */
  objArray(key: string): ParamReader[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === '') return undefined;
    if (!Array.isArray(v)) throw invalidRequest(`Invalid array`, this.name(key));
    return v.map((item, i) => {
      if (typeof item === 'string' || Array.isArray(item)) {
        throw invalidRequest(`Invalid hash`, `${this.name(key)}[${i}]`);
      }
      return new ParamReader(item, `${this.name(key)}[${i}]`);
    });
  }

  /** An array of strings (`expand[0]=…`, `lookup_keys[]=…`); a lone string counts as one item. */
  strArray(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (v === '') return [];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v)) throw invalidRequest(`Invalid array`, this.name(key));
    return v.map((item, i) => {
      if (typeof item !== 'string') throw invalidRequest(`Invalid string`, `${this.name(key)}[${i}]`);
      return item;
    });
  }

  /**
   * Applies Stripe's metadata update rules to `current`: `metadata=''` clears all keys,
   * `metadata[k]=''` removes `k`, other keys are set. Returns `current` when absent.
   */
  metadata(current: Record<string, string> = {}): Record<string, string> {
    const v = this.raw.metadata;
    if (v === undefined) return current;
    if (v === '') return {};
    if (typeof v === 'string' || Array.isArray(v))
      throw invalidRequest('Invalid hash', this.name('metadata'));
    const out = { ...current };
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') throw invalidRequest('Invalid string', `${this.name('metadata')}[${k}]`);
      if (val === '') delete out[k];
      else out[k] = val;
    }
    return out;
  }

  /** `created[gte]=…` style range filters, or an exact `created=…`. */
  range(key: string): ((n: number | null | undefined) => boolean) | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string') {
      const exact = this.reqInt(key);
      return (n) => n === exact;
    }
    const r = this.obj(key);
    if (!r) return undefined;
    const gt = r.int('gt');
    const gte = r.int('gte');
    const lt = r.int('lt');
    const lte = r.int('lte');
    return (n) =>
      typeof n === 'number' &&
      (gt === undefined || n > gt) &&
      (gte === undefined || n >= gte) &&
      (lt === undefined || n < lt) &&
      (lte === undefined || n <= lte);
  }
}
