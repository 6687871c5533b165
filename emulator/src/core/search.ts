import { invalidRequest } from './errors';
import { ParamReader } from './params';
import { readLimit } from './list';

/**
 * A small implementation of Stripe's search query language
 * (https://docs.stripe.com/search#search-query-language):
 *   `email:'a@b.c'`, `metadata['key']:'value'`, `name~'sub'` (substring, ≥ 3 chars),
 *   `-field:'x'` (negation), `created>1700000000` (also <, >=, <=), `field:null`,
 *   clauses joined by `AND` or by `OR` (not both in one query, as in Stripe).
 * Strings compare case-insensitively. Field paths with dots (`recurring.interval`) are followed.
 */
export interface SearchResult<T> {
  object: 'search_result';
  data: T[];
  has_more: boolean;
  next_page: string | null;
  url: string;
  total_count?: number;
}

type Op = ':' | '~' | '>' | '<' | '>=' | '<=';
interface Clause {
  negate: boolean;
  path: string[];
  op: Op;
  value: string | null;
  numeric: boolean;
}

const CLAUSE_RE =
  /^\s*(-?)([A-Za-z_][\w.]*)(?:\[\s*(['"])(.*?)\3\s*\])?\s*(>=|<=|:|~|>|<)\s*(?:(['"])((?:\\.|(?!\6).)*)\6|(-?\d+(?:\.\d+)?)|(null))/;

function parseSearchQuery(query: string): { clauses: Clause[]; joiner: 'AND' | 'OR' } {
  const clauses: Clause[] = [];
  const joiners = new Set<'AND' | 'OR'>();
  let rest = query.trim();
  if (!rest) throw invalidRequest('Missing required param: query.', 'query', 'parameter_missing');
  for (;;) {
    const m = CLAUSE_RE.exec(rest);
    if (!m) throw invalidRequest(`Invalid query: could not parse '${rest}'.`, 'query');
    const [whole, neg, field, , metaKey, op, , quoted, num, nul] = m;
    const path = metaKey !== undefined ? [field, metaKey] : field.split('.');
    const value = nul ? null : quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : num;
    if (op === '~' && (value === null || value.length < 3)) {
      throw invalidRequest('Substring search (~) needs at least 3 characters.', 'query');
    }
    clauses.push({ negate: neg === '-', path, op: op as Op, value, numeric: num !== undefined });
    rest = rest.slice(whole.length).trim();
    if (!rest) break;
    const j = /^(AND|OR)\s+/i.exec(rest);
    if (!j) throw invalidRequest(`Invalid query: expected AND or OR before '${rest}'.`, 'query');
    joiners.add(j[1].toUpperCase() as 'AND' | 'OR');
    rest = rest.slice(j[0].length);
  }
  if (joiners.size > 1) throw invalidRequest('Cannot mix AND and OR in a search query.', 'query');
  return { clauses, joiner: joiners.has('OR') ? 'OR' : 'AND' };
}

function resolve(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function test(obj: unknown, c: Clause): boolean {
  const v = resolve(obj, c.path);
  let ok: boolean;
  if (c.value === null) ok = v === null || v === undefined;
  else if (c.op === ':') {
    if (typeof v === 'string') ok = v.toLowerCase() === c.value.toLowerCase();
    else if (typeof v === 'number' || typeof v === 'boolean') ok = String(v) === c.value;
    else ok = false;
  } else if (c.op === '~') ok = typeof v === 'string' && v.toLowerCase().includes(c.value.toLowerCase());
  else {
    const n = Number(c.value);
    if (typeof v !== 'number') ok = false;
    else if (c.op === '>') ok = v > n;
    else if (c.op === '<') ok = v < n;
    else if (c.op === '>=') ok = v >= n;
    else ok = v <= n;
  }
  return c.negate ? !ok : ok;
}

/** Runs `query` (param `query`) over `items` (newest first) with `page`/`limit` pagination. */
export function search<T>(items: T[], input: ParamReader, url: string): SearchResult<T> {
  const query = input.reqStr('query');
  const { clauses, joiner } = parseSearchQuery(query);
  const hits = items.filter((o) =>
    joiner === 'AND' ? clauses.every((c) => test(o, c)) : clauses.some((c) => test(o, c)),
  );
  const limit = readLimit(input);
  const page = input.str('page');
  let start = 0;
  if (page) {
    const decoded = Number(Buffer.from(page, 'base64url').toString('utf8').replace(/^off:/, ''));
    if (!Number.isInteger(decoded) || decoded < 0) throw invalidRequest('Invalid page.', 'page');
    start = decoded;
  }
  const data = hits.slice(start, start + limit);
  const hasMore = start + limit < hits.length;
  return {
    object: 'search_result',
    data,
    has_more: hasMore,
    next_page: hasMore ? Buffer.from(`off:${start + limit}`).toString('base64url') : null,
    url,
  };
}
