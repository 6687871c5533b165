/**
 * The tax part of the hosted invoice page and its PDF stand-in: the customer's tax IDs (an invoice's "header" shows
 * them, https://docs.stripe.com/billing/customer/tax-ids), one row per `total_taxes` entry (name and rate from its tax
 * rate), and a reverse-charge note when the buyer accounts for the VAT (https://docs.stripe.com/tax/zero-tax).
 * The wording is the emulator's.
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { esc, money } from '../../pages/html';
import { TAX_RATE } from '../../resources/tax-rates';

function taxLabel(emulator: Emulator, tax: Stripe.Invoice.TotalTax): string {
  const rate = emulator.store.get(TAX_RATE, tax.tax_rate_details?.tax_rate ?? '');
  const name = rate
    ? `${rate.display_name} (${rate.percentage} %${rate.inclusive ? ', included' : ''})`
    : 'Tax';
  return tax.taxability_reason === 'reverse_charge' ? `${name}, reverse charge` : name;
}

/** Table rows to put above the invoice's total. */
export function invoiceTaxRows(emulator: Emulator, invoice: Stripe.Invoice): string {
  return (invoice.total_taxes ?? [])
    .map(
      (tax) =>
        `<tr class="tax"><td>${esc(taxLabel(emulator, tax))}</td><td class="num">${money(tax.amount, invoice.currency)}</td></tr>`,
    )
    .join('');
}

/** The customer's tax IDs and, for a reverse charge, the note saying who accounts for the VAT. */
export function invoiceTaxNotes(invoice: Stripe.Invoice): string {
  const ids = (invoice.customer_tax_ids ?? [])
    .map((taxId) => `<span class="tax-id">${esc(taxId.type)} ${esc(taxId.value ?? '')}</span>`)
    .join(', ');
  const reverse = (invoice.total_taxes ?? []).some((tax) => tax.taxability_reason === 'reverse_charge');
  return [
    ids ? `<p id="customer-tax-ids">Customer tax ID: ${ids}</p>` : '',
    reverse
      ? '<p id="reverse-charge">Reverse charge: the customer accounts for the VAT on this invoice.</p>'
      : '',
  ].join('');
}
