import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { notFound } from '../core/errors';
import { COLLECTIONS } from '../core/collections';

/** A live customer, or 404 "No such customer: 'cus_x'" (deleted ones included). */
export function requireCustomer(emulator: Emulator, id: string, param = 'customer'): Stripe.Customer {
  const c = emulator.store.get(COLLECTIONS.customer, id);
  if (!c) throw notFound('customer', id, param);
  return c;
}

export function requireProduct(emulator: Emulator, id: string, param = 'product'): Stripe.Product {
  const p = emulator.store.get(COLLECTIONS.product, id);
  if (!p) throw notFound('product', id, param);
  return p;
}

export function requirePrice(emulator: Emulator, id: string, param = 'price'): Stripe.Price {
  const p = emulator.store.get(COLLECTIONS.price, id);
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
  emulator.store.put(COLLECTIONS.deleted, stub);
  return stub;
}

export function deletedStub(emulator: Emulator, id: string): DeletedStub | undefined {
  return emulator.store.get(COLLECTIONS.deleted, id);
}

declare module '../core/collections' {
  interface CollectionRecords {
    _deleted: DeletedStub;
  }
}
