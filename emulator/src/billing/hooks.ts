/**
 * Lets invoices tell subscriptions about payment outcomes without importing them (subscriptions
 * import invoices; this breaks the cycle).
 */
import type Stripe from 'stripe';
import type { Emulator } from './ctx';

export interface InvoiceListener {
  paid?: (emu: Emulator, inv: Stripe.Invoice) => void;
  paymentFailed?: (emu: Emulator, inv: Stripe.Invoice, finalAttempt: boolean) => void;
  /** Called before `invoice.payment_failed` so the subscription can set `next_payment_attempt`. */
  nextAttempt?: (emu: Emulator, inv: Stripe.Invoice, failedAt: number) => number | null;
}

const listeners: InvoiceListener[] = [];

export function onInvoice(listener: InvoiceListener): void {
  listeners.push(listener);
}

export function invoiceListeners(): readonly InvoiceListener[] {
  return listeners;
}
