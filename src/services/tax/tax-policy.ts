import type Stripe from 'stripe';
import type { PostalAddress } from '../../entities/billing-customer.entity';
import { TaxLocationRequiredError } from '../../errors';

/**
 * Whether Stripe Tax computes tax (`STRIPE_TAX=on`, ADR 0024), and what that adds to each Stripe call: one place,
 * so Checkout, a new subscription, a plan change and every preview ask for the same tax.
 */
export class TaxPolicy {
  constructor(readonly enabled: boolean) {}

  /** `automatic_tax` for a subscription create or update and for `invoices.createPreview`; nothing when off. */
  automaticTax(): { automatic_tax?: { enabled: true } } {
    return this.enabled ? { automatic_tax: { enabled: true } } : {};
  }

  /**
   * Checkout with Stripe Tax (https://docs.stripe.com/tax/checkout): the page collects the billing address and a
   * VAT ID, and saves both on our existing customer. Stripe refuses automatic tax for an existing customer without
   * a valid address unless `customer_update[address]=auto`, and tax ID collection needs `customer_update[name]=auto`
   * (the business name is collected with the ID): https://docs.stripe.com/tax/checkout/tax-ids.
   */
  checkout(): Pick<
    Stripe.Checkout.SessionCreateParams,
    'automatic_tax' | 'billing_address_collection' | 'tax_id_collection' | 'customer_update'
  > {
    if (!this.enabled) return {};
    return {
      automatic_tax: { enabled: true },
      billing_address_collection: 'required',
      tax_id_collection: { enabled: true },
      customer_update: { address: 'auto', name: 'auto' },
    };
  }

  /**
   * On a customer update with tax on, Stripe checks the new address at once and answers
   * `customer_tax_location_invalid` when it cannot place it (https://docs.stripe.com/tax/customer-locations: "set
   * tax[validate_location]=immediately to prevent customer_tax_location_invalid errors later").
   */
  customerUpdate(): Pick<Stripe.CustomerUpdateParams, 'tax'> {
    return this.enabled ? { tax: { validate_location: 'immediately' } } : {};
  }

  /**
   * Refuses, before anything is written, a subscription or change Stripe Tax could not tax: without a place an
   * invoice is finalized untaxed and the subscription's automatic tax is switched off
   * (https://docs.stripe.com/tax/customer-locations, "Invoice finalization errors").
   */
  requireLocation(address: PostalAddress | null | undefined): void {
    if (this.enabled && !isTaxLocation(address)) throw new TaxLocationRequiredError();
  }
}

/**
 * Enough for Stripe Tax to place a customer (https://docs.stripe.com/tax/invoicing, "Set up the customer"): a
 * country outside the US, and a 5-digit ZIP in the US.
 */
export function isTaxLocation(address: PostalAddress | null | undefined): boolean {
  const country = (address?.country ?? '').trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) return false;
  return country !== 'US' || /^\d{5}(-\d{4})?$/.test((address?.postalCode ?? '').trim());
}
