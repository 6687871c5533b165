/** The hosted invoice page (`hosted_invoice_url`) and a printable stand-in for `invoice_pdf`. */
import type Stripe from 'stripe';
import { HttpResponse, type Route } from '../core/http';
import { requireInvoice } from '../billing/invoices';
import { date, esc, layout, money } from './html';

function render(inv: Stripe.Invoice): string {
  const rows = inv.lines.data
    .map(
      (l) =>
        `<tr><td>${esc(l.description ?? '')}<br><span class="muted">${date(l.period.start)} – ${date(l.period.end)}</span></td><td class="num">${money(l.amount, l.currency)}</td></tr>`,
    )
    .join('');
  return layout(
    `Invoice ${inv.number ?? inv.id}`,
    `<h1>Invoice ${esc(inv.number ?? inv.id)}</h1>
<p>Status: <strong id="status">${esc(inv.status)}</strong> · ${esc(inv.customer_email ?? '')}</p>
<table>${rows}
<tr><th>Total</th><th class="num">${money(inv.total, inv.currency)}</th></tr>
<tr><td>Amount paid</td><td class="num">${money(inv.amount_paid, inv.currency)}</td></tr>
<tr><th>Amount due</th><th class="num">${money(inv.amount_remaining, inv.currency)}</th></tr></table>`,
  );
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/invoice/:id',
    handler: ({ emu, pathParams }) => HttpResponse.html(render(requireInvoice(emu, pathParams.id))),
  },
  {
    method: 'GET',
    path: '/invoice/:id/pdf',
    // Not a PDF: the emulator serves the same document as HTML (documented in the README).
    handler: ({ emu, pathParams }) => HttpResponse.html(render(requireInvoice(emu, pathParams.id))),
  },
];
