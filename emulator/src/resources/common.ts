import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { notFound } from '../core/errors';

/** Collection names used by the simple resources (Stripe `object` values). */
export const COL = {
  customer: 'customer',
  deleted: '_deleted',
  product: 'product',
  price: 'price',
  paymentMethod: 'payment_method',
  card: 'card',
  pmBehavior: '_pm_behavior',
  meter: 'billing.meter',
  meterEvent: '_meter_event',
  meterEventAdjustment: '_meter_event_adjustment',
  testClock: 'test_helpers.test_clock',
} as const;

/** A live customer, or 404 "No such customer: 'cus_x'" (deleted ones included). */
export function requireCustomer(emulator: Emulator, id: string, param = 'customer'): Stripe.Customer {
  const c = emulator.store.get<Stripe.Customer>(COL.customer, id);
  if (!c) throw notFound('customer', id, param);
  return c;
}

export function requireProduct(emulator: Emulator, id: string, param = 'product'): Stripe.Product {
  const p = emulator.store.get<Stripe.Product>(COL.product, id);
  if (!p) throw notFound('product', id, param);
  return p;
}

export function requirePrice(emulator: Emulator, id: string, param = 'price'): Stripe.Price {
  const p = emulator.store.get<Stripe.Price>(COL.price, id);
  if (!p) throw notFound('price', id, param);
  return p;
}

/** A deletion stub as Stripe returns it (`{id, object, deleted: true}`), kept for later GETs. */
export interface DeletedStub {
  id: string;
  object: string;
  deleted: true;
}

export function rememberDeleted(emulator: Emulator, id: string, object: string): DeletedStub {
  const stub: DeletedStub = { id, object, deleted: true };
  emulator.store.put(COL.deleted, stub);
  return stub;
}

export function deletedStub(emulator: Emulator, id: string): DeletedStub | undefined {
  return emulator.store.get<DeletedStub>(COL.deleted, id);
}
