import type Stripe from 'stripe';
import { figuresOf, lineOf } from '../../src/services/invoices/invoice-lines';

/** Invoice lines in this API version's shape (pricing, parent details, discount and tax amounts). */
function line(overrides: Partial<Stripe.InvoiceLineItem>): Stripe.InvoiceLineItem {
  return {
    id: 'il_1',
    object: 'line_item',
    amount: 1900,
    currency: 'usd',
    description: '1 × Starter (at $19.00 / month)',
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: 'in_1',
    livemode: false,
    metadata: {},
    parent: null,
    period: { start: 1_800_000_000, end: 1_802_592_000 },
    pretax_credit_amounts: null,
    pricing: null,
    quantity: 1,
    quantity_decimal: null,
    subscription: null,
    subtotal: 1900,
    taxes: [],
    ...overrides,
  } as Stripe.InvoiceLineItem;
}

describe('invoice lines', () => {
  it('a sub-cent unit price has no whole-cent amount, only its decimal string', () => {
    const view = lineOf(
      line({
        amount: 13,
        quantity: 25,
        pricing: {
          type: 'price_details',
          unit_amount_decimal: '0.5',
        } as unknown as Stripe.InvoiceLineItem.Pricing,
      }),
    );
    expect(view).toMatchObject({ unitAmount: null, unitAmountDecimal: '0.5', quantity: 25, amount: 13 });
  });

  it('a proration is flagged from its parent; discounts and taxes add up per line and per invoice', () => {
    const proration = line({
      amount: -950,
      parent: {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          proration: true,
        } as Stripe.InvoiceLineItem.Parent.SubscriptionItemDetails,
      } as Stripe.InvoiceLineItem.Parent,
      discount_amounts: [{ amount: 100, discount: 'di_1' }],
      taxes: [{ amount: 70 } as Stripe.InvoiceLineItem.Tax, { amount: 5 } as Stripe.InvoiceLineItem.Tax],
    });
    expect(lineOf(proration)).toMatchObject({
      proration: true,
      discountAmount: 100,
      taxAmount: 75,
      unitAmount: null,
    });
    expect(lineOf(proration).periodStart).toEqual(new Date(1_800_000_000_000));
    const invoice = {
      currency: 'eur',
      subtotal: 950,
      total: 925,
      amount_due: 925,
      total_discount_amounts: [{ amount: 100, discount: 'di_1' }],
      total_taxes: [{ amount: 75 }],
    } as unknown as Stripe.Invoice;
    expect(figuresOf(invoice, [proration])).toMatchObject({
      currency: 'eur',
      discount: 100,
      tax: 75,
      total: 925,
    });
  });
});
