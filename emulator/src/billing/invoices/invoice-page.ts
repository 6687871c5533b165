/** The hosted invoice page (`hosted_invoice_url`) and a printable stand-in for `invoice_pdf`. */
import type Stripe from 'stripe';
import { StripeApiError } from '../../core/errors';
import { type ApiRequest, HttpResponse, type Route } from '../../core/http';
import { attemptPayment, paymentIntentOf, requireInvoice } from './invoices';
import { date, esc, layout, money } from '../../pages/html';
import { authenticationUrl } from '../payments/authentication';
import { hostedUrl } from '../urls';
import { COLLECTIONS } from '../../core/collections';
import type { Emulator } from '../context';
import { invoiceTaxNotes, invoiceTaxRows } from '../tax/invoice-tax-html';

/** The hosted page's pay button: an open invoice Stripe collects from a card. */
function payForm(invoice: Stripe.Invoice): string {
  if (invoice.status !== 'open' || invoice.amount_remaining <= 0) return '';
  if (invoice.collection_method !== 'charge_automatically') return '';
  return `<form method="post" action="/invoice/${esc(invoice.id)}/pay"><button type="submit" id="pay">Pay ${money(invoice.amount_remaining, invoice.currency)}</button></form>`;
}

function render(emulator: Emulator, invoice: Stripe.Invoice, error: string | null = null): string {
  const rows = invoice.lines.data
    .map(
      (l) =>
        `<tr><td>${esc(l.description ?? '')}<br><span class="muted">${date(l.period.start)} – ${date(l.period.end)}</span></td><td class="num">${money(l.amount, l.currency)}</td></tr>`,
    )
    .join('');
  return layout(
    `Invoice ${invoice.number ?? invoice.id}`,
    `<h1>Invoice ${esc(invoice.number ?? invoice.id)}</h1>
<p>Status: <strong id="status">${esc(invoice.status)}</strong> · ${esc(invoice.customer_email ?? '')}</p>
${invoiceTaxNotes(invoice)}<table>${rows}${invoiceTaxRows(emulator, invoice)}
<tr><th>Total</th><th class="num">${money(invoice.total, invoice.currency)}</th></tr>
<tr><td>Amount paid</td><td class="num">${money(invoice.amount_paid, invoice.currency)}</td></tr>
<tr><th>Amount due</th><th class="num">${money(invoice.amount_remaining, invoice.currency)}</th></tr></table>
${error ? `<p class="error" id="error">${esc(error)}</p>` : ''}${payForm(invoice)}`,
  );
}

/**
 * The customer pays on the hosted page, on-session, with the card Stripe would charge. When the bank asks for
 * 3-D Secure the page sends them to the challenge and back here (Stripe's hosted invoice page runs the same
 * challenge, https://docs.stripe.com/invoicing/hosted-invoice-page).
 */
function pay(req: ApiRequest): HttpResponse {
  const { emulator } = req;
  const invoice = requireInvoice(emulator, req.pathParams.id);
  const waiting = paymentIntentOf(emulator, invoice);
  if (invoice.status === 'open' && waiting?.status !== 'requires_action') {
    try {
      attemptPayment(emulator, invoice, null, 'manual', false);
    } catch (e) {
      if (!(e instanceof StripeApiError)) throw e;
      return HttpResponse.html(render(emulator, invoice, e.body.message), 402);
    }
  }
  const paymentIntent = paymentIntentOf(emulator, invoice);
  if (paymentIntent?.status === 'requires_action') {
    return HttpResponse.redirect(challengeReturningTo(emulator, paymentIntent, invoice));
  }
  const failure = paymentIntent?.last_payment_error?.message ?? null;
  return HttpResponse.html(render(emulator, invoice, invoice.status === 'open' ? failure : null));
}

/** The challenge's address, with this page as the `return_url`. */
function challengeReturningTo(
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  invoice: Stripe.Invoice,
): string {
  emulator.store.update(COLLECTIONS.paymentIntent, paymentIntent.id, (intent) => {
    if (intent.next_action?.redirect_to_url)
      intent.next_action.redirect_to_url.return_url = hostedUrl(emulator, `/invoice/${invoice.id}`);
  });
  return authenticationUrl(emulator, paymentIntent.id);
}

export const routes: Route[] = [
  { method: 'POST', path: '/invoice/:id/pay', handler: pay },
  {
    method: 'GET',
    path: '/invoice/:id',
    handler: ({ emulator, pathParams }) =>
      HttpResponse.html(render(emulator, requireInvoice(emulator, pathParams.id))),
  },
  {
    method: 'GET',
    path: '/invoice/:id/pdf',
    // Not a PDF: the emulator serves the same document as HTML (documented in the README).
    handler: ({ emulator, pathParams }) =>
      HttpResponse.html(render(emulator, requireInvoice(emulator, pathParams.id))),
  },
];
