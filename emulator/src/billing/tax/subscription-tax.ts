/**
 * A subscription's (or a standalone invoice's) tax settings: `automatic_tax[enabled]` (https://docs.stripe.com/tax/subscriptions) or manual
 * `default_tax_rates` (https://docs.stripe.com/billing/taxes/tax-rates). Every invoice the subscription makes
 * inherits them (see `automaticTaxField`, `buildInvoice`). Stripe refuses the two together: automatic tax computes
 * the rates itself (the Invoice object's `automatic_tax.enabled`: invoice items "with manually specified tax rates …
 * cannot be added to automatic tax invoices").
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { invalidRequest } from '../../core/errors';
import type { ParamReader } from '../../core/params';
import { requireTaxRate } from '../../resources/tax-rates';

export function readAutomaticTax(input: ParamReader): boolean | undefined {
  return input.obj('automatic_tax')?.bool('enabled');
}

/** `default_tax_rates[]` as tax rate objects (404 for an unknown id); `''` clears them; absent: undefined. */
export function readDefaultTaxRates(emulator: Emulator, input: ParamReader): Stripe.TaxRate[] | undefined {
  if (!input.has('default_tax_rates')) return undefined;
  if (input.raw.default_tax_rates === '') return [];
  return (input.strArray('default_tax_rates') ?? []).map((taxRateId, i) =>
    structuredClone(requireTaxRate(emulator, taxRateId, `default_tax_rates[${i}]`)),
  );
}

/** 400 before anything is written when a subscription or invoice would have both automatic tax and manual rates. */
export function refuseMixedTax(automaticTax: boolean, defaultTaxRates: readonly Stripe.TaxRate[]): void {
  if (!automaticTax || defaultTaxRates.length === 0) return;
  throw invalidRequest(
    'You cannot set `default_tax_rates` together with `automatic_tax[enabled]=true`.',
    'default_tax_rates',
  );
}

export function setSubscriptionAutomaticTax(
  subscription: Stripe.Subscription,
  enabled: boolean | undefined,
): void {
  if (enabled === undefined) return;
  subscription.automatic_tax = {
    disabled_reason: null,
    enabled,
    liability: enabled ? { type: 'self' } : null,
  };
}

export function setSubscriptionTaxRates(
  subscription: Stripe.Subscription,
  defaultTaxRates: Stripe.TaxRate[] | undefined,
): void {
  if (defaultTaxRates !== undefined) subscription.default_tax_rates = defaultTaxRates;
}
