/**
 * Lets invoices tell subscriptions about payment outcomes without importing them (subscriptions
 * import invoices; this breaks the cycle).
 */
import type Stripe from 'stripe';
import type { Emulator } from './context';

export interface InvoiceListener {
  paid?: (emulator: Emulator, invoice: Stripe.Invoice) => void;
  paymentFailed?: (emulator: Emulator, invoice: Stripe.Invoice, finalAttempt: boolean) => void;
  /** Called before `invoice.payment_failed` so the subscription can set `next_payment_attempt`. */
  nextAttempt?: (emulator: Emulator, invoice: Stripe.Invoice, failedAt: number) => number | null;
}

const listeners: InvoiceListener[] = [];

export function onInvoice(listener: InvoiceListener): void {
  listeners.push(listener);
}

export function invoiceListeners(): readonly InvoiceListener[] {
  return listeners;
}
