/**
 * Payment receipts, as https://docs.stripe.com/receipts describes them: "The link to view the receipt in the browser
 * is also available through the API on the Charge object" (`receipt_url`); the receipt "will always show the latest
 * status of that Charge—if it has been refunded, the receipt will accurately reflect this". A receipt email is sent
 * to the `receipt_email` given with the payment (test-mode payments send none on their own), and "each receipt
 * contains … a unique receipt number" (`receipt_number`, null while no receipt was sent). The emulator sends no
 * mail: the charge records the address and the number as if it had.
 */
import { randomInt } from 'node:crypto';
import type Stripe from 'stripe';
import { HttpResponse, type Route } from '../../core/http';
import { COLLECTIONS } from '../../core/collections';
import { date, esc, layout, money } from '../../pages/html';
import type { Emulator } from '../context';
import { hostedUrl } from '../urls';

type ReceiptFields = Pick<Stripe.Charge, 'receipt_email' | 'receipt_number' | 'receipt_url'>;

/** Stripe's receipt numbers read like `1168-9321`. */
function receiptNumber(): string {
  const part = () => String(randomInt(0, 10_000)).padStart(4, '0');
  return `${part()}-${part()}`;
}

/** The receipt fields of a new charge: a receipt exists for a payment that went through. */
export function receiptFields(
  emulator: Emulator,
  chargeId: string,
  succeeded: boolean,
  receiptEmail: string | null,
): ReceiptFields {
  if (!succeeded) return { receipt_email: receiptEmail, receipt_number: null, receipt_url: null };
  return {
    receipt_email: receiptEmail,
    receipt_number: receiptEmail ? receiptNumber() : null,
    receipt_url: hostedUrl(emulator, `/receipts/payment/${chargeId}`),
  };
}

function receiptPage(charge: Stripe.Charge): string {
  const refunded =
    charge.amount_refunded > 0
      ? `<tr><td>Refunded</td><td class="num" id="refunded">${money(-charge.amount_refunded, charge.currency)}</td></tr>`
      : '';
  return layout(
    'Receipt',
    `<h1>Receipt</h1>
<p class="muted">Receipt ${esc(charge.receipt_number ?? charge.id)} · ${esc(date(charge.created))}</p>
<table>
<tr><td>${esc(charge.description ?? 'Payment')}</td><td class="num" id="amount">${money(charge.amount, charge.currency)}</td></tr>
${refunded}
</table>
<p>Status: <strong id="status">${charge.refunded ? 'refunded' : esc(charge.status)}</strong></p>`,
  );
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/receipts/payment/:id',
    handler: ({ emulator, pathParams }) =>
      HttpResponse.html(receiptPage(emulator.store.require(COLLECTIONS.charge, pathParams.id, 'charge'))),
  },
];
