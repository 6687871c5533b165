/**
 * `automatic_tax[enabled]` on a subscription (https://docs.stripe.com/tax/subscriptions: "set
 * `automatic_tax[enabled]=true` … when creating or updating a subscription"); every invoice the subscription makes
 * inherits it (see `automaticTaxField`).
 */
import type Stripe from 'stripe';
import type { ParamReader } from '../../core/params';

export function readAutomaticTax(input: ParamReader): boolean | undefined {
  return input.obj('automatic_tax')?.bool('enabled');
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
