/**
 * The billing engine's view of the core: time, ids, events. One place so the engine's files only
 * talk to the core through these helpers.
 */
import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { newId } from '../core/ids';

export type { Emulator };

/**
 * Time override used while the engine replays what time brings: while processing something due
 * at T for a customer, `emulator.now(customer)` answers T so objects and events carry the moment they
 * happened, not the end of the advance window.
 */
const overrides = new WeakMap<Emulator, Map<string, number>>();

export function installTimeOverride(emulator: Emulator): void {
  const map = new Map<string, number>();
  overrides.set(emulator, map);
  emulator.addTimeSource((customerId) => map.get(customerId));
}

export function withTimeAt<T>(emulator: Emulator, customerId: string, at: number, fn: () => T): T {
  const map = overrides.get(emulator);
  if (!map) return fn();
  const prev = map.get(customerId);
  map.set(customerId, at);
  try {
    return fn();
  } finally {
    if (prev === undefined) map.delete(customerId);
    else map.set(customerId, prev);
  }
}

export function now(emulator: Emulator, customerId: string | null | undefined): number {
  return emulator.now(customerId ?? undefined);
}

export function emit(
  emulator: Emulator,
  type: Stripe.Event.Type,
  object: { id: string; object: string },
  previous?: Record<string, unknown>,
  /** For an object that names no customer: whose time (test clock) the event is created at. */
  customer?: string,
): void {
  emulator.emitEvent(type, object, previous, undefined, customer);
}

export function id(prefix: string): string {
  return newId(prefix);
}

export function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : v.id;
}

/** Client secrets look like `<id>_secret_<random>`. */
export function clientSecret(objectId: string): string {
  return `${objectId}_secret_${newId('x').slice(2)}`;
}

/**
 * `*_decimal` fields are JSON strings on the wire; the SDK types them as its `Decimal` class
 * (it converts on parse). Stored objects hold the wire form, hence this one cast.
 */
export function wireDecimal(value: string): Stripe.Decimal;
export function wireDecimal(value: string | null): Stripe.Decimal | null;
export function wireDecimal(value: string | null): Stripe.Decimal | null {
  return value as unknown as Stripe.Decimal | null;
}

export function decimalString(value: Stripe.Decimal | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return String(value);
}
