/**
 * Builders for invoice-shaped objects under API version `2026-10-28.endive`: invoices carry
 * `parent.subscription_details` (no `subscription`/`paid`/`charge`/`payment_intent` fields),
 * lines carry `parent` (`subscription_item_details` or `invoice_item_details`) and `pricing`.
 */
import type Stripe from 'stripe';
import { id, wireDecimal } from '../context';
import { priceProductId, unitAmountDecimal } from '../pricing';
import { automaticTaxField } from '../tax/invoice-tax';

/** What a line is made of before it gets an id on an invoice. */
export interface LineSpec {
  amount: number;
  currency: string;
  description: string | null;
  period: { start: number; end: number };
  price: Stripe.Price | null;
  quantity: number | null;
  proration: boolean;
  subscription: string | null;
  subscriptionItem: string | null;
  invoiceItem: string | null;
  metadata: Record<string, string>;
  /** Discounts already taken into `amount` (a proration's, see `discounts/prorations.ts`). */
  discounts?: string[];
}

export function buildLine(invoiceId: string | null, spec: LineSpec): Stripe.InvoiceLineItem {
  const lineParent: Stripe.InvoiceLineItem.Parent = spec.invoiceItem
    ? {
        type: 'invoice_item_details',
        invoice_item_details: {
          invoice_item: spec.invoiceItem,
          proration: spec.proration,
          proration_details: { credited_items: null },
          subscription: spec.subscription,
        },
        subscription_item_details: null,
      }
    : {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: null,
          proration: spec.proration,
          proration_details: { credited_items: null },
          subscription: spec.subscription,
          subscription_item: spec.subscriptionItem ?? '',
        },
      };
  return {
    id: id('il'),
    object: 'line_item',
    amount: spec.amount,
    currency: spec.currency,
    description: spec.description,
    discount_amounts: (spec.discounts ?? []).map((discount) => ({ amount: 0, discount })),
    discountable: !spec.proration,
    discounts: spec.discounts ?? [],
    invoice: invoiceId,
    livemode: false,
    metadata: spec.metadata,
    parent: lineParent,
    period: spec.period,
    pretax_credit_amounts: [],
    pricing: spec.price
      ? {
          type: 'price_details',
          price_details: { price: spec.price.id, product: priceProductId(spec.price) },
          unit_amount_decimal: wireDecimal(unitAmountDecimal(spec.price)),
        }
      : null,
    quantity: spec.quantity,
    quantity_decimal: spec.quantity === null ? null : wireDecimal(String(spec.quantity)),
    subscription: spec.subscription,
    subtotal: spec.amount,
    taxes: [],
  };
}

export interface InvoiceArgs {
  customer: Stripe.Customer;
  subscription: Stripe.Subscription | null;
  billingReason: Stripe.Invoice.BillingReason;
  currency: string;
  created: number;
  periodStart: number;
  periodEnd: number;
  collectionMethod: Stripe.Invoice.CollectionMethod;
  daysUntilDue: number | null;
  defaultPaymentMethod: string | null;
  description: string | null;
  metadata: Record<string, string>;
  autoAdvance: boolean;
  /** When time finalizes the draft (a subscription's cycle invoice, after the grace period); null: never by itself. */
  automaticallyFinalizesAt?: number | null;
  /** `automatic_tax[enabled]`; default: the subscription's. */
  automaticTax?: boolean;
  /** `default_tax_rates[]`; default: the subscription's. */
  defaultTaxRates?: Stripe.TaxRate[];
}

export function buildInvoice(args: InvoiceArgs): Stripe.Invoice {
  const invoiceId = id('in');
  const c = args.customer;
  return {
    id: invoiceId,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Stripe Emulator',
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: args.autoAdvance,
    automatic_tax: automaticTaxField(args.automaticTax ?? args.subscription?.automatic_tax?.enabled ?? false),
    automatically_finalizes_at: args.automaticallyFinalizesAt ?? null,
    billing_reason: args.billingReason,
    collection_method: args.collectionMethod,
    confirmation_secret: null,
    created: args.created,
    currency: args.currency,
    custom_fields: null,
    customer: c.id,
    customer_account: null,
    customer_address: c.address ?? null,
    customer_email: c.email ?? null,
    customer_name: c.name ?? null,
    customer_phone: c.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: args.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: args.defaultTaxRates ?? args.subscription?.default_tax_rates ?? [],
    description: args.description,
    discounts: [],
    due_date:
      args.collectionMethod === 'send_invoice' ? args.created + (args.daysUntilDue ?? 30) * 86_400 : null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${invoiceId}/lines` },
    livemode: false,
    metadata: args.metadata,
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: args.subscription
      ? {
          type: 'subscription_details',
          quote_details: null,
          subscription_details: { metadata: args.subscription.metadata, subscription: args.subscription.id },
        }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    payments: { object: 'list', data: [], has_more: false, url: `/v1/invoice_payments?invoice=${invoiceId}` },
    period_end: args.periodEnd,
    period_start: args.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: c.test_clock ? (typeof c.test_clock === 'string' ? c.test_clock : c.test_clock.id) : null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: args.created,
  };
}

export function subscriptionIdOfInvoice(invoice: Stripe.Invoice): string | null {
  const s = invoice.parent?.subscription_details?.subscription;
  if (!s) return null;
  return typeof s === 'string' ? s : s.id;
}

export function customerIdOf(v: { customer: string | { id: string } | null }): string {
  const c = v.customer;
  if (!c) return '';
  return typeof c === 'string' ? c : c.id;
}
