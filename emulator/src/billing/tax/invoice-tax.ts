/**
 * Automatic tax on an invoice (https://docs.stripe.com/tax/invoicing): each line's `taxes`, the invoice's
 * `automatic_tax.status`, and the customer's tax details copied onto the invoice (`customer_address`,
 * `customer_tax_exempt`, `customer_tax_ids`: the Invoice object keeps them as they were when it was made, and the
 * invoice PDF prints the tax IDs, which is where a reverse charge's buyer VAT number appears).
 *
 * Run whenever an invoice's lines change and again at finalization ("Stripe calculates the tax at the published
 * rate at the time of invoice finalization", same page). An invoice finalized while the customer's location is
 * still unknown has automatic tax switched off with `disabled_reason: finalization_requires_location_inputs`
 * (the Invoice object's `automatic_tax.disabled_reason`).
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { COLLECTIONS } from '../../core/collections';
import { taxIdsOf } from '../../resources/tax-ids';
import { jurisdictionTaxRate, lineTax, lineTaxAmounts } from './line-tax';
import { manualLineTaxes } from './manual-tax';
import { type TaxDecision, decideTax } from './tax-decision';
import { taxSettings } from './tax-settings';
import { lineTaxableAmount } from './taxable-amount';

/** `automatic_tax` for a new invoice (`enabled` from the subscription, the preview or the create params). */
export function automaticTaxField(enabled: boolean): Stripe.Invoice.AutomaticTax {
  return {
    disabled_reason: null,
    enabled,
    liability: enabled ? { type: 'self' } : null,
    provider: enabled ? 'stripe' : null,
    status: null,
  };
}

function customerIdOfInvoice(invoice: Stripe.Invoice): string {
  const c = invoice.customer;
  return typeof c === 'string' ? c : (c?.id ?? '');
}

/** The line's tax behaviour: its price's, or the account default for `unspecified` and price-less lines. */
function lineBehavior(emulator: Emulator, line: Stripe.InvoiceLineItem): 'exclusive' | 'inclusive' {
  const priceId = line.pricing?.price_details?.price;
  const id = typeof priceId === 'string' ? priceId : priceId?.id;
  const price = id ? emulator.store.get(COLLECTIONS.price, id) : undefined;
  if (price?.tax_behavior === 'exclusive') return 'exclusive';
  if (price?.tax_behavior === 'inclusive') return 'inclusive';
  return taxSettings(emulator).defaultTaxBehavior;
}

function taxLines(emulator: Emulator, invoice: Stripe.Invoice, decision: TaxDecision): void {
  for (const line of invoice.lines.data) {
    if (decision.status !== 'complete') {
      line.taxes = [];
      continue;
    }
    const behavior = lineBehavior(emulator, line);
    const amounts = lineTaxAmounts(lineTaxableAmount(line), decision.basisPoints, behavior);
    const rate = jurisdictionTaxRate(
      emulator,
      decision.jurisdiction,
      decision.basisPoints,
      behavior === 'inclusive',
    );
    line.taxes = [lineTax(amounts, behavior, decision.reason, rate)];
  }
}

/** Who is taxed: the customer as stored, or as a preview's `customer_details` describe them. */
export interface TaxSubject {
  customer: Stripe.Customer;
  taxIds: Stripe.TaxId[];
}

function copyCustomerTaxDetails(invoice: Stripe.Invoice, subject: TaxSubject): void {
  invoice.customer_address = subject.customer.address ?? null;
  invoice.customer_tax_exempt = subject.customer.tax_exempt ?? 'none';
  invoice.customer_tax_ids = subject.taxIds.map((taxId) => ({ type: taxId.type, value: taxId.value }));
}

function storedSubject(emulator: Emulator, invoice: Stripe.Invoice): TaxSubject | null {
  const customer = emulator.store.get(COLLECTIONS.customer, customerIdOfInvoice(invoice));
  return customer ? { customer, taxIds: taxIdsOf(emulator, customer.id) } : null;
}

/** Computes every line's tax on a draft or preview invoice: automatic, from `default_tax_rates`, or none. */
export function applyInvoiceTax(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  subject: TaxSubject | null = storedSubject(emulator, invoice),
): void {
  if (subject) copyCustomerTaxDetails(invoice, subject);
  if (!invoice.automatic_tax.enabled || !subject) {
    const rates = invoice.default_tax_rates ?? [];
    for (const line of invoice.lines.data) line.taxes = manualLineTaxes(line, rates);
    return;
  }
  const decision = decideTax(emulator, subject.customer, subject.taxIds);
  invoice.automatic_tax.status = decision.status;
  taxLines(emulator, invoice, decision);
}

/** Tax at finalization: computed again; without a location, automatic tax is disabled on the invoice. */
export function applyFinalizationTax(emulator: Emulator, invoice: Stripe.Invoice): void {
  applyInvoiceTax(emulator, invoice);
  if (invoice.automatic_tax.enabled && invoice.automatic_tax.status === 'requires_location_inputs') {
    invoice.automatic_tax.enabled = false;
    invoice.automatic_tax.disabled_reason = 'finalization_requires_location_inputs';
  }
}

export interface InvoiceTaxTotals {
  /** Tax added on top of the lines (exclusive prices). */
  exclusive: number;
  /** Tax already inside the lines (inclusive prices). */
  inclusive: number;
  totalTaxes: Stripe.Invoice.TotalTax[];
}

/** Sums the lines' taxes per tax rate, reason and behaviour into the invoice's `total_taxes`. */
export function invoiceTaxTotals(invoice: Stripe.Invoice): InvoiceTaxTotals {
  const byKey = new Map<string, Stripe.Invoice.TotalTax>();
  let exclusive = 0;
  let inclusive = 0;
  for (const tax of invoice.lines.data.flatMap((line) => line.taxes ?? [])) {
    if (tax.tax_behavior === 'inclusive') inclusive += tax.amount;
    else exclusive += tax.amount;
    const rate = tax.tax_rate_details?.tax_rate ?? '';
    const key = `${rate}|${tax.taxability_reason}|${tax.tax_behavior}`;
    const total = byKey.get(key);
    if (total) {
      total.amount += tax.amount;
      total.taxable_amount = (total.taxable_amount ?? 0) + (tax.taxable_amount ?? 0);
    } else byKey.set(key, { ...tax, tax_rate_details: tax.tax_rate_details && { ...tax.tax_rate_details } });
  }
  return { exclusive, inclusive, totalTaxes: [...byKey.values()] };
}
