/**
 * `automatic_tax[enabled]` on a Checkout Session (https://docs.stripe.com/tax/checkout): each line's `amount_tax`, the
 * session's `total_details.amount_tax` and `automatic_tax.status`, from the customer's address when the session
 * names a customer who has one (`requires_location_inputs` until then: the hosted page would collect it). The
 * subscription or payment the session completes into is taxed the same way (see `billing/tax/invoice-tax.ts`).
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { lineTaxAmounts } from '../tax/line-tax';
import { decideTax } from '../tax/tax-decision';
import { taxSettings } from '../tax/tax-settings';

function behaviorOf(emulator: Emulator, price: Stripe.Price | null | undefined): 'exclusive' | 'inclusive' {
  if (price?.tax_behavior === 'exclusive') return 'exclusive';
  if (price?.tax_behavior === 'inclusive') return 'inclusive';
  return taxSettings(emulator).defaultTaxBehavior;
}

export function applyCheckoutTax(
  emulator: Emulator,
  session: Stripe.Checkout.Session,
  customer: Stripe.Customer | null,
  enabled: boolean,
): void {
  if (!enabled) return;
  const decision = customer
    ? decideTax(emulator, customer)
    : ({ status: 'requires_location_inputs' } as const);
  session.automatic_tax = {
    enabled: true,
    liability: { type: 'self' },
    provider: 'stripe',
    status: decision.status,
  };
  if (decision.status !== 'complete' || session.mode === 'setup') return;
  let exclusiveTax = 0;
  let allTax = 0;
  for (const line of session.line_items?.data ?? []) {
    const behavior = behaviorOf(emulator, line.price);
    const { tax } = lineTaxAmounts(line.amount_subtotal, decision.basisPoints, behavior);
    line.amount_tax = tax;
    if (behavior === 'exclusive') {
      line.amount_total = line.amount_subtotal + tax;
      exclusiveTax += tax;
    }
    allTax += tax;
  }
  session.amount_total = (session.amount_total ?? 0) + exclusiveTax;
  if (session.total_details) session.total_details.amount_tax = allTax;
}
