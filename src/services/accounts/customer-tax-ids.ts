import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { BadUserInputError, NotFoundError } from '../../errors';
import type { AccountEvents } from './account-events';
import type { AccountProfile, CustomerManager } from './customer-manager';
import type { StripeClient } from '../stripe/stripe-client';

/** A tax ID of the customer as the API shows it (https://docs.stripe.com/api/tax_ids/object). */
export interface TaxIdView {
  id: string;
  type: string;
  value: string;
  /** Stripe's check against VIES / HMRC (`pending`, `verified`, `unverified`, `unavailable`); null for other types. */
  verification: string | null;
}

/** The customer's tax standing: its tax IDs and Stripe's exemption status (`none`, `exempt`, `reverse`). */
export interface CustomerTaxView {
  taxIds: TaxIdView[];
  taxExempt: string;
}

/** Tax ID types the page offers and the API takes; Stripe knows many more (`Stripe.TaxIdCreateParams.Type`). */
export const TAX_ID_TYPES = ['eu_vat', 'gb_vat', 'ch_vat', 'no_vat', 'us_ein', 'au_abn', 'ca_bn'] as const;
export type TaxIdType = (typeof TAX_ID_TYPES)[number];

/**
 * The customer's VAT and other tax IDs, kept in Stripe only (Stripe verifies EU and GB VAT numbers
 * asynchronously, and a verified ID of another EU country is what makes an invoice reverse charge:
 * https://docs.stripe.com/tax/zero-tax). Read from Stripe when asked, as the discount is (ADR 0024).
 */
export class CustomerTaxIds {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly events: AccountEvents,
  ) {}

  /** Adds a tax ID (the same type and value already there changes nothing); Stripe checks its format. */
  async add(
    em: EntityManager,
    profile: AccountProfile,
    input: { type: TaxIdType; value: string },
  ): Promise<TaxIdView> {
    const customer = await this.customers.ensure(em, profile);
    const stripeCustomerId = customer.stripeCustomerId as string;
    const value = input.value.replace(/\s+/g, '').toUpperCase();
    if (!value) throw new BadUserInputError('value is empty', 'value');
    const existing = await this.list(stripeCustomerId);
    const same = existing.find((taxId) => taxId.type === input.type && taxId.value === value);
    if (same) return same;
    const params = { type: input.type, value };
    const created = await this.stripe.call(
      'customers.createTaxId',
      (sdk, options) => sdk.customers.createTaxId(stripeCustomerId, params, options),
      // The IDs held now are part of the intent: adding a value again after removing it is a new request.
      {
        name: `customer.tax-id.create:${profile.accountId}`,
        params: { ...params, holding: existing.map((taxId) => taxId.id).sort() },
      },
    );
    await this.events.accountUpdated(profile.accountId, 'customer.updated');
    return viewOf(created);
  }

  /** Removes one of the account's tax IDs; an id the customer does not hold is NOT_FOUND. */
  async remove(em: EntityManager, accountId: string, taxId: string): Promise<void> {
    const customer = await this.customers.require(em, accountId);
    const stripeCustomerId = customer.stripeCustomerId as string;
    const held = await this.list(stripeCustomerId);
    if (!held.some((candidate) => candidate.id === taxId)) throw new NotFoundError('This tax ID');
    await this.stripe.call(
      'customers.deleteTaxId',
      (sdk, options) => sdk.customers.deleteTaxId(stripeCustomerId, taxId, {}, options),
      { name: `customer.tax-id.delete:${taxId}` },
    );
    await this.events.accountUpdated(accountId, 'customer.updated');
  }

  /** The customer's tax IDs and exemption status, read from Stripe (one call). */
  async of(stripeCustomerId: string): Promise<CustomerTaxView> {
    const customer = await this.stripe.call('customers.retrieve', (sdk) =>
      sdk.customers.retrieve(stripeCustomerId, { expand: ['tax_ids'] }),
    );
    if (customer.deleted) return { taxIds: [], taxExempt: 'none' };
    return {
      taxIds: (customer.tax_ids?.data ?? []).map(viewOf),
      taxExempt: customer.tax_exempt ?? 'none',
    };
  }

  private async list(stripeCustomerId: string): Promise<TaxIdView[]> {
    const page = await this.stripe.call('customers.listTaxIds', (sdk) =>
      sdk.customers.listTaxIds(stripeCustomerId, { limit: 100 }),
    );
    return page.data.map(viewOf);
  }
}

function viewOf(taxId: Stripe.TaxId): TaxIdView {
  return {
    id: taxId.id,
    type: taxId.type,
    value: taxId.value,
    verification: taxId.verification?.status ?? null,
  };
}
