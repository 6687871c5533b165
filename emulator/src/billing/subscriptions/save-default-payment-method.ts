/**
 * `payment_settings.save_default_payment_method`: whether a payment method that pays a subscription's invoice
 * becomes the subscription's default.
 */
import type Stripe from 'stripe';
import { type Emulator, idOf } from '../context';
import { paymentMethodThatPaid } from '../invoices/invoices';

export type SaveDefaultPaymentMethod = Stripe.Subscription.PaymentSettings.SaveDefaultPaymentMethod;

export function setSaveDefaultPaymentMethod(
  subscription: Stripe.Subscription,
  value: SaveDefaultPaymentMethod,
): void {
  if (subscription.payment_settings) subscription.payment_settings.save_default_payment_method = value;
}

/**
 * `payment_settings.save_default_payment_method: on_subscription`: "Configure whether Stripe updates
 * `subscription.default_payment_method` when payment succeeds" (the SDK's Subscription type): the payment method
 * that paid one of the subscription's invoices becomes its default, if it is not already.
 */
export function paymentMethodToSave(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  invoice: Stripe.Invoice,
): string | null {
  if (subscription.payment_settings?.save_default_payment_method !== 'on_subscription') return null;
  const paidWith = paymentMethodThatPaid(emulator, invoice);
  return paidWith && paidWith !== idOf(subscription.default_payment_method) ? paidWith : null;
}
