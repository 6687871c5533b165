/**
 * A customer's tax IDs, `/v1/customers/:id/tax_ids[/:tax_id]` (https://docs.stripe.com/api/tax_ids and
 * https://docs.stripe.com/billing/customer/tax-ids): create, list, retrieve, delete, with
 * `customer.tax_id.created/updated/deleted` events, and `tax_id_data` on customer creation.
 */
import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { invalidRequest, notFound } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId } from '../core/ids';
import { listOf, paginate } from '../core/list';
import type { ParamReader } from '../core/params';
import { COLLECTIONS } from '../core/collections';
import { rememberDeleted, requireCustomer } from './common';
import { taxIdCountry, taxIdFormatIsValid, verificationFor } from './tax-id-rules';

/** The store collection (named for the Stripe object, so ids expand). */
export const TAX_ID = 'tax_id';

/** A customer's tax IDs, oldest first (the order they print on an invoice). */
export function taxIdsOf(emulator: Emulator, customerId: string): Stripe.TaxId[] {
  return emulator.store
    .all(TAX_ID)
    .filter((taxId) => taxId.customer === customerId)
    .reverse();
}

/** Stripe's 400 for a value that doesn't match the type's format (`code: tax_id_invalid`). */
function assertValid(type: string, value: string, param: string): void {
  if (taxIdFormatIsValid(type, value)) return;
  throw invalidRequest(`Invalid value for ${type}.`, param, 'tax_id_invalid');
}

export interface TaxIdInput {
  type: string;
  value: string;
}

/** Reads and checks `type`/`value` (before anything is written, so a bad one leaves nothing behind). */
export function readTaxIdInput(input: ParamReader): TaxIdInput {
  const type = input.reqStr('type');
  const value = input.reqStr('value');
  assertValid(type, value, input.name('value'));
  return { type, value };
}

/**
 * Stores a tax ID and emits `customer.tax_id.created`. Government verification (eu_vat against VIES, gb_vat against
 * HMRC) is asynchronous at Stripe: the ID is created `pending` and `customer.tax_id.updated` follows with the result.
 * The emulator's check is instant, so the update is emitted right after and the response already shows the result.
 */
export function addTaxId(emulator: Emulator, customerId: string, data: TaxIdInput): Stripe.TaxId {
  const verification = verificationFor(data.type, data.value);
  const taxId = describeTaxId(emulator, customerId, data);
  taxId.verification = verification
    ? { status: 'pending', verified_address: null, verified_name: null }
    : null;
  emulator.store.insert(TAX_ID, taxId);
  emulator.emitEvent('customer.tax_id.created', taxId);
  if (verification && verification.status !== 'pending') {
    const { obj, previous } = emulator.store.update(TAX_ID, taxId.id, (stored) => {
      stored.verification = verification;
    });
    emulator.emitEvent('customer.tax_id.updated', obj, previous);
  }
  return emulator.store.require(TAX_ID, taxId.id);
}

/** A tax ID object as it settles (verification included), not stored: for previews' `customer_details[tax_ids]`. */
export function describeTaxId(emulator: Emulator, customerId: string, data: TaxIdInput): Stripe.TaxId {
  return {
    id: newId('txi'),
    object: 'tax_id',
    country: taxIdCountry(data.type, data.value),
    created: emulator.now(customerId),
    customer: customerId,
    customer_account: null,
    livemode: false,
    owner: { customer: customerId, customer_account: null, type: 'customer' },
    type: data.type as Stripe.TaxId.Type,
    value: data.value,
    verification: verificationFor(data.type, data.value),
  };
}

/** `tax_id_data[]` on `POST /v1/customers`: read and checked up front, added after the customer exists. */
export function readTaxIdData(input: ParamReader): TaxIdInput[] {
  return (input.objArray('tax_id_data') ?? []).map((reader) => readTaxIdInput(reader));
}

function requireCustomerTaxId(emulator: Emulator, customerId: string, taxIdId: string): Stripe.TaxId {
  const taxId = emulator.store.get(TAX_ID, taxIdId);
  if (!taxId || taxId.customer !== customerId) throw notFound('tax_id', taxIdId);
  return taxId;
}

function create({ emulator, input, pathParams }: ApiRequest): Stripe.TaxId {
  const customer = requireCustomer(emulator, pathParams.id, 'customer');
  return addTaxId(emulator, customer.id, readTaxIdInput(input));
}

function remove({ emulator, pathParams }: ApiRequest): unknown {
  requireCustomer(emulator, pathParams.id, 'customer');
  const taxId = requireCustomerTaxId(emulator, pathParams.id, pathParams.taxId);
  emulator.store.delete(TAX_ID, taxId.id);
  const stub = rememberDeleted(emulator, taxId.id, 'tax_id');
  emulator.emitEvent('customer.tax_id.deleted', taxId);
  return stub;
}

export function setup(emulator: Emulator): void {
  // Replaces the customers module's empty list: `customer.tax_ids` is returned only when expanded.
  emulator.registerIncludable(COLLECTIONS.customer, 'tax_ids', (customer) =>
    listOf(taxIdsOf(emulator, String(customer.id)), `/v1/customers/${String(customer.id)}/tax_ids`),
  );
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/customers/:id/tax_ids', params: ['type', 'value'], handler: create },
  {
    method: 'GET',
    path: '/v1/customers/:id/tax_ids',
    params: ['limit', 'starting_after', 'ending_before'],
    handler: (req) => {
      requireCustomer(req.emulator, req.pathParams.id, 'customer');
      const newestFirst = taxIdsOf(req.emulator, req.pathParams.id).reverse();
      return paginate(newestFirst, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/customers/:id/tax_ids/:taxId',
    params: [],
    handler: ({ emulator, pathParams }) => {
      requireCustomer(emulator, pathParams.id, 'customer');
      return requireCustomerTaxId(emulator, pathParams.id, pathParams.taxId);
    },
  },
  { method: 'DELETE', path: '/v1/customers/:id/tax_ids/:taxId', params: [], handler: remove },
];

declare module '../core/collections' {
  interface CollectionRecords {
    tax_id: Stripe.TaxId;
  }
}
