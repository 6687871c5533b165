/**
 * `automatic_tax[enabled]` on a Checkout Session (https://docs.stripe.com/tax/checkout): "Enabling this parameter
 * causes Checkout to collect any billing address information necessary for tax calculation" (SessionCreateParams),
 * and "Checkout and Payment Links use the address collected during the session"
 * (https://docs.stripe.com/tax/customer-locations). Each line's `amount_tax`, the session's
 * `total_details.amount_tax` and `automatic_tax.status` come from the customer's address when the session names a
 * customer who has one, else `requires_location_inputs` until the page collects one; at completion the collected
 * address is taxed again, given to a new customer, and saved on an existing one with `customer_update[address]=auto`
 * (an existing customer without a valid address and without that is refused at creation, as Stripe does). The
 * subscription or payment the session completes into is taxed the same way (`billing/tax/invoice-tax.ts`).
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { invalidRequest } from '../../core/errors';
import type { Params, ParamReader } from '../../core/params';
import { COLLECTIONS } from '../../core/collections';
import { lineTaxAmounts } from '../tax/line-tax';
import { jurisdictionOf } from '../tax/rate-table';
import { decideTax, type TaxedCustomer } from '../tax/tax-decision';
import { taxSettings } from '../tax/tax-settings';

/** What the session was created with for tax beyond Stripe's fields. */
interface CheckoutTaxExtras {
  id: string;
  /** `customer_update[address]=auto`: the collected address is saved on an existing customer. */
  saveAddress: boolean;
}

const CHECKOUT_TAX_EXTRAS = '_checkout_tax_extras';

function behaviorOf(emulator: Emulator, price: Stripe.Price | null | undefined): 'exclusive' | 'inclusive' {
  if (price?.tax_behavior === 'exclusive') return 'exclusive';
  if (price?.tax_behavior === 'inclusive') return 'inclusive';
  return taxSettings(emulator).defaultTaxBehavior;
}

/** Line and session amounts from the lines' subtotals and the tax `customer` owes (none without a location). */
function taxSession(
  emulator: Emulator,
  session: Stripe.Checkout.Session,
  customer: TaxedCustomer | null,
): void {
  const decision = customer
    ? decideTax(emulator, customer)
    : ({ status: 'requires_location_inputs' } as const);
  session.automatic_tax = {
    enabled: true,
    liability: { type: 'self' },
    provider: 'stripe',
    status: decision.status,
  };
  if (session.mode === 'setup') return;
  let total = 0;
  let allTax = 0;
  for (const line of session.line_items?.data ?? []) {
    const net = line.amount_subtotal - line.amount_discount;
    const behavior = behaviorOf(emulator, line.price);
    const tax = decision.status === 'complete' ? lineTaxAmounts(net, decision.basisPoints, behavior).tax : 0;
    line.amount_tax = tax;
    line.amount_total = net + (behavior === 'exclusive' ? tax : 0);
    total += line.amount_total;
    allTax += tax;
  }
  session.amount_total = total;
  if (session.total_details) session.total_details.amount_tax = allTax;
}

/** At creation: tax from the named customer's address, and Stripe's refusal when it cannot be known. */
export function applyCheckoutTax(
  emulator: Emulator,
  session: Stripe.Checkout.Session,
  customer: Stripe.Customer | null,
  input: ParamReader,
): void {
  if (!input.obj('automatic_tax')?.bool('enabled')) return;
  const saveAddress = input.obj('customer_update')?.str('address') === 'auto';
  if (customer && !saveAddress && !jurisdictionOf(customer.address)) {
    throw invalidRequest(
      "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the Customer or set either customer_update[address] to 'auto' or customer_update[shipping] to 'auto' to save the address entered in Checkout to the Customer.",
      'automatic_tax[enabled]',
    );
  }
  emulator.store.put(CHECKOUT_TAX_EXTRAS, { id: session.id, saveAddress });
  taxSession(emulator, session, customer);
}

/** The billing address a page or test entered (`country`, `postal_code`, `state`, `line1`, `city`), if any. */
export function readCollectedAddress(input: ParamReader): Stripe.Address | null {
  const country = input.str('country');
  if (!country) return null;
  const field = (key: string) => input.str(key) || null;
  return {
    city: field('city'),
    country: country.toUpperCase(),
    line1: field('line1'),
    line2: null,
    postal_code: field('postal_code'),
    state: field('state'),
  };
}

/** `address[...]` params for creating the session's new customer with the collected address. */
export function addressParams(address: Stripe.Address | null): Params {
  if (!address) return {};
  const entries = Object.entries(address).filter((entry): entry is [string, string] => entry[1] !== null);
  return { address: Object.fromEntries(entries) };
}

/**
 * At completion, before anything is charged: saves the collected address on an existing customer that asked for
 * it (`customer.updated`) and taxes the session again from where the customer now is.
 */
export function taxCollectedAddress(
  emulator: Emulator,
  session: Stripe.Checkout.Session,
  customerId: string | null,
  address: Stripe.Address | null,
): void {
  const extras = emulator.store.get(CHECKOUT_TAX_EXTRAS, session.id);
  if (!extras || !session.automatic_tax.enabled) return;
  let customer = customerId ? (emulator.store.get(COLLECTIONS.customer, customerId) ?? null) : null;
  if (customer && address && extras.saveAddress) {
    const { obj, previous } = emulator.store.update(COLLECTIONS.customer, customer.id, (c) => {
      c.address = address;
    });
    if (Object.keys(previous).length > 0) emulator.emitEvent('customer.updated', obj, previous);
    customer = obj;
  }
  // Without a customer (payment mode), the collected address alone is who is taxed.
  const taxed: TaxedCustomer | null =
    customer ?? (address ? { id: '', address, shipping: null, tax_exempt: 'none' } : null);
  taxSession(emulator, session, taxed);
  emulator.store.put(COLLECTIONS.checkoutSession, session);
}

declare module '../../core/collections' {
  interface CollectionRecords {
    _checkout_tax_extras: CheckoutTaxExtras;
  }
}
