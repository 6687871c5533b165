import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { RecordOf, Storable } from './collections';
import { notFound } from './errors';

export type { Storable };

interface Entry {
  seq: number;
  obj: Storable;
}

interface Snapshot {
  version: 1;
  seq: number;
  collections: Record<string, Record<string, Entry>>;
  meta: Record<string, unknown>;
}

/**
 * In-memory maps per collection (by convention the Stripe `object` name: `customer`, `price`,
 * `billing.meter`; private emulator records start with `_`). Objects are kept by reference:
 * mutate what `get` returns, or use `update` to also learn the previous values.
 * Lists come back newest first (by `created`, then insertion order), as Stripe lists do.
 */
export class Store {
  private collections = new Map<string, Map<string, Entry>>();
  private seq = 0;
  /** Small emulator-wide values that must survive a save/load (clock offset, settings). */
  meta: Record<string, unknown> = {};
  /** Called after every change; the server uses it to schedule a save to `--data`. */
  onChange: () => void = () => {};

  private coll(type: string): Map<string, Entry> {
    let c = this.collections.get(type);
    if (!c) {
      c = new Map();
      this.collections.set(type, c);
    }
    return c;
  }

  /** Adds (or replaces, keeping its list position) an object. */
  put<K extends string>(type: K, obj: RecordOf<K>): RecordOf<K> {
    const c = this.coll(type);
    const existing = c.get(obj.id);
    c.set(obj.id, { seq: existing ? existing.seq : ++this.seq, obj });
    this.onChange();
    return obj;
  }

  /** Alias of `put` that reads better at creation. */
  insert<K extends string>(type: K, obj: RecordOf<K>): RecordOf<K> {
    return this.put(type, obj);
  }

  get<K extends string>(type: K, id: string): RecordOf<K> | undefined {
    return this.collections.get(type)?.get(id)?.obj as RecordOf<K> | undefined;
  }

  /** Like `get`, but a missing object is Stripe's 404 "No such <label>: '<id>'". */
  require<K extends string>(
    type: K,
    id: string,
    label = type.replace(/[._]/g, ' '),
    param = 'id',
  ): RecordOf<K> {
    const obj = this.get(type, id);
    if (obj === undefined) throw notFound(label, id, param);
    return obj;
  }

  /**
   * Mutates an object in place (all or nothing: if `mutate` throws, the object is restored)
   * and returns it with `previous`: the old values of the fields
   * that changed, shaped as Stripe's `data.previous_attributes` (see `previousAttributes`).
   */
  update<K extends string>(
    type: K,
    id: string,
    mutate: (obj: RecordOf<K>) => void,
    label?: string,
  ): { obj: RecordOf<K>; previous: Partial<RecordOf<K>> } {
    const obj = this.require(type, id, label);
    const before = structuredClone(obj);
    try {
      mutate(obj);
    } catch (e) {
      // A validation error half-way must not leave a half-updated object behind.
      const target = obj as unknown as Record<string, unknown>;
      for (const k of Object.keys(target)) delete target[k];
      Object.assign(target, structuredClone(before));
      throw e;
    }
    this.onChange();
    return { obj, previous: previousAttributes(before, obj) as Partial<RecordOf<K>> };
  }

  delete(type: string, id: string): boolean {
    const ok = this.collections.get(type)?.delete(id) ?? false;
    if (ok) this.onChange();
    return ok;
  }

  /** Every object of a collection, newest first. */
  all<K extends string>(type: K): RecordOf<K>[] {
    const c = this.collections.get(type);
    if (!c) return [];
    const entries = [...c.values()];
    entries.sort((a, b) => {
      const ca = created(a.obj);
      const cb = created(b.obj);
      return cb !== ca ? cb - ca : b.seq - a.seq;
    });
    return entries.map((e) => e.obj as RecordOf<K>);
  }

  /** Finds an object in any public collection by id (used by `expand`). */
  findById(id: string): { type: string; obj: Storable } | undefined {
    for (const [type, c] of this.collections) {
      if (type.startsWith('_')) continue;
      const e = c.get(id);
      if (e) return { type, obj: e.obj };
    }
    return undefined;
  }

  types(): string[] {
    return [...this.collections.keys()].sort();
  }

  reset(): void {
    this.collections.clear();
    this.meta = {};
    this.onChange();
  }

  toJSON(): Snapshot {
    const collections: Snapshot['collections'] = {};
    for (const [type, c] of this.collections) collections[type] = Object.fromEntries(c);
    return { version: 1, seq: this.seq, collections, meta: this.meta };
  }

  /** Writes atomically (temp file + rename) so a crash never leaves half a file. */
  save(file: string): void {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.toJSON()));
    renameSync(tmp, file);
  }

  /** Replaces the contents with a file written by `save`. */
  load(file: string): void {
    const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    if (snap.version !== 1) throw new Error(`Unsupported emulator data version in ${file}`);
    this.collections.clear();
    for (const [type, entries] of Object.entries(snap.collections)) {
      this.collections.set(type, new Map(Object.entries(entries)));
    }
    this.seq = snap.seq;
    this.meta = snap.meta ?? {};
  }
}

function created(obj: Storable): number {
  const c = (obj as { created?: unknown }).created;
  return typeof c === 'number' ? c : 0;
}

function isPlainHash(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !('object' in v);
}

/**
 * Stripe's `previous_attributes`: for each changed top-level field its old value. Plain hashes
 * (metadata, settings) recurse so only their changed keys appear (a key that was absent shows
 * as `null`); arrays and Stripe objects (anything with `object`) appear whole.
 */
export function previousAttributes(before: unknown, after: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof before !== 'object' || before === null || typeof after !== 'object' || after === null) {
    return out;
  }
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (deepEqual(b[key], a[key])) continue;
    if (isPlainHash(b[key]) && isPlainHash(a[key])) out[key] = previousAttributes(b[key], a[key]);
    else out[key] = b[key] === undefined ? null : b[key];
  }
  return out;
}

export function deepEqual(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x);
  const ky = Object.keys(y);
  if (kx.length !== ky.length) return false;
  const rx = x as Record<string, unknown>;
  const ry = y as Record<string, unknown>;
  return kx.every((k) => deepEqual(rx[k], ry[k]));
}
