/**
 * Inputs of `POST /v1/invoices/create_preview` (https://docs.stripe.com/api/invoices/create_preview) beyond the
 * subscription change: the tax settings to preview with (`automatic_tax[enabled]`; `customer_details` — "Details
 * about the customer you want to invoice or overrides for an existing customer": `address`, `shipping`,
 * `tax_exempt`, `tax_ids[]`).
 */
import type Stripe from 'stripe';
import type { ParamReader } from '../../core/params';
import { describeTaxId, readTaxIdInput, taxIdsOf } from '../../resources/tax-ids';
import type { Emulator } from '../context';
import type { TaxSubject } from '../tax/invoice-tax';

export interface PreviewTax {
  /** `automatic_tax[enabled]`; absent: as the subscription has it. */
  automaticTax?: boolean;
  /** Who is taxed; absent: the stored customer. */
  subject?: TaxSubject;
}

function readAddress(reader: ParamReader | undefined): Stripe.Address | null {
  if (!reader) return null;
  const field = (key: string) => reader.str(key) ?? null;
  return {
    city: field('city'),
    country: field('country'),
    line1: field('line1'),
    line2: field('line2'),
    postal_code: field('postal_code'),
    state: field('state'),
  };
}

/** The customer as `customer_details` overrides it (each field given replaces the stored one). */
function subjectFromDetails(emulator: Emulator, customer: Stripe.Customer, details: ParamReader): TaxSubject {
  const overridden: Stripe.Customer = { ...customer };
  if (details.has('address')) overridden.address = readAddress(details.obj('address'));
  if (details.has('shipping')) {
    const shipping = details.obj('shipping');
    overridden.shipping = shipping
      ? { address: readAddress(shipping.obj('address')) ?? undefined, name: shipping.str('name') ?? '' }
      : null;
  }
  const exempt = details.oneOf('tax_exempt', ['none', 'exempt', 'reverse'] as const);
  if (exempt) overridden.tax_exempt = exempt;
  const taxIds = details.has('tax_ids')
    ? (details.objArray('tax_ids') ?? []).map((r) => describeTaxId(emulator, customer.id, readTaxIdInput(r)))
    : taxIdsOf(emulator, customer.id);
  return { customer: overridden, taxIds };
}

export function readPreviewTax(
  emulator: Emulator,
  input: ParamReader,
  customer: Stripe.Customer,
): PreviewTax {
  const details = input.obj('customer_details');
  return {
    automaticTax: input.obj('automatic_tax')?.bool('enabled'),
    ...(details ? { subject: subjectFromDetails(emulator, customer, details) } : {}),
  };
}
