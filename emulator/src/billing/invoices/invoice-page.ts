/** The hosted invoice page (`hosted_invoice_url`) and a printable stand-in for `invoice_pdf`. */
import type Stripe from 'stripe';
import { HttpResponse, type Route } from '../../core/http';
import { requireInvoice } from './invoices';
import { date, esc, layout, money } from '../../pages/html';

function render(invoice: Stripe.Invoice): string {
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
<table>${rows}
<tr><th>Total</th><th class="num">${money(invoice.total, invoice.currency)}</th></tr>
<tr><td>Amount paid</td><td class="num">${money(invoice.amount_paid, invoice.currency)}</td></tr>
<tr><th>Amount due</th><th class="num">${money(invoice.amount_remaining, invoice.currency)}</th></tr></table>`,
  );
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/invoice/:id',
    handler: ({ emulator, pathParams }) => HttpResponse.html(render(requireInvoice(emulator, pathParams.id))),
  },
  {
    method: 'GET',
    path: '/invoice/:id/pdf',
    // Not a PDF: the emulator serves the same document as HTML (documented in the README).
    handler: ({ emulator, pathParams }) => HttpResponse.html(render(requireInvoice(emulator, pathParams.id))),
  },
];
