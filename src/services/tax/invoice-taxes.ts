import type Stripe from 'stripe';
import type { StripeClient } from '../stripe/stripe-client';

/** One tax of an invoice (issued or previewed), per rate: minor units of the invoice's currency. */
export interface TaxLineView {
  amount: number;
  currency: string;
  /** What the tax was computed on (after discounts, per Stripe's order: https://docs.stripe.com/tax/invoicing). */
  taxableAmount: number;
  /** The rate as Stripe states it, as a decimal string (`"23"`, `"7.25"`): never a float in our API. */
  ratePercent: string;
  /** Where it is owed (`IE`, `DE`, `California`), from the tax rate; null when Stripe names none. */
  jurisdiction: string | null;
  /** The rate's name (`VAT`, `Sales Tax`). */
  name: string;
  /** Why this much: `standard_rated`, `reverse_charge`, `customer_exempt`, `not_collecting`, … */
  taxabilityReason: string | null;
}

export interface InvoiceTaxSummary {
  taxLines: TaxLineView[];
  /** True when the buyer accounts for the VAT (a verified VAT ID of another EU country, or `tax_exempt=reverse`). */
  reverseCharge: boolean;
  /** What the invoice says then: Stripe prints "Reverse charge" on the invoice PDF (Customer `tax_exempt` docs). */
  reverseChargeNote: string | null;
}

/** https://docs.stripe.com/api/customers/object#customer_object-tax_exempt: "invoice and receipt PDFs include the following text: Reverse charge". */
export const REVERSE_CHARGE_NOTE = 'Reverse charge';

/** Tax rates kept in memory: a rate's percentage and jurisdiction never change (https://docs.stripe.com/api/tax_rates/update). */
const CACHED_RATES = 1000;

/**
 * An invoice's taxes as a billing page shows them: `total_taxes` per rate, each with its rate's percentage and
 * jurisdiction (read once per rate: Stripe's automatic tax makes one rate per jurisdiction and rate).
 */
export class InvoiceTaxes {
  private readonly rates = new Map<string, Stripe.TaxRate>();

  constructor(private readonly stripe: StripeClient) {}

  async summaryOf(invoice: Stripe.Invoice): Promise<InvoiceTaxSummary> {
    const totals = invoice.total_taxes ?? [];
    const taxLines = await Promise.all(totals.map((tax) => this.lineOf(tax, invoice.currency)));
    const reverseCharge =
      totals.some((tax) => tax.taxability_reason === 'reverse_charge') ||
      invoice.customer_tax_exempt === 'reverse';
    return { taxLines, reverseCharge, reverseChargeNote: reverseCharge ? REVERSE_CHARGE_NOTE : null };
  }

  private async lineOf(tax: Stripe.Invoice.TotalTax, currency: string): Promise<TaxLineView> {
    const rateId = tax.tax_rate_details?.tax_rate ?? null;
    const rate = rateId ? await this.rate(rateId) : null;
    return {
      amount: tax.amount,
      currency,
      taxableAmount: tax.taxable_amount ?? 0,
      ratePercent: rate ? percentText(rate.percentage) : '0',
      jurisdiction: rate?.jurisdiction ?? rate?.country ?? null,
      name: rate?.display_name ?? 'Tax',
      taxabilityReason: tax.taxability_reason ?? null,
    };
  }

  private async rate(id: string): Promise<Stripe.TaxRate> {
    const cached = this.rates.get(id);
    if (cached) return cached;
    const rate = await this.stripe.call('taxRates.retrieve', (sdk) => sdk.taxRates.retrieve(id));
    if (this.rates.size >= CACHED_RATES) {
      const [oldest] = this.rates.keys();
      if (oldest) this.rates.delete(oldest);
    }
    this.rates.set(id, rate);
    return rate;
  }
}

/** Stripe's percentage has at most four decimals (https://docs.stripe.com/api/tax_rates/create): print them exactly. */
function percentText(percentage: number): string {
  return Number(percentage.toFixed(4)).toString();
}
