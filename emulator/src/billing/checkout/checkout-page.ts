/**
 * The hosted Checkout page (`session.url` = `/checkout/pay/{id}`): a plain HTML form for a test
 * card number (no JavaScript). Submitting it completes the session as Stripe does and answers a
 * 303 redirect to `success_url` (`{CHECKOUT_SESSION_ID}` filled in); a declined card re-shows the
 * form with the error. Also:
 * - `POST /_emulator/checkout/sessions/{id}/complete` (`card`, optional `email`): the same
 *   completion for tests without a browser; answers the completed session (402 on a decline).
 * - the Stripe CLI's undocumented `GET /v1/payment_pages/{cs}` and
 *   `POST /v1/payment_pages/{cs}/confirm` (`payment_method`, `expected_amount`).
 */
import type Stripe from 'stripe';
import { invalidRequest, StripeApiError } from '../../core/errors';
import { type ApiRequest, HttpResponse, type Route } from '../../core/http';
import {
  attachPaymentMethod,
  createCardPaymentMethod,
  resolvePaymentMethod,
} from '../../resources/payment-methods';
import { completeSession, requireSession, successRedirect } from './checkout';
import type { Emulator } from '../context';
import { esc, layout, money } from '../../pages/html';
import { COLLECTIONS } from '../../core/collections';
import { applyTypedCode } from '../discounts/checkout-discounts';

/** The discount the session has (`total_details.amount_discount`), as a line above the total. */
function discountRow(session: Stripe.Checkout.Session): string {
  const discount = session.total_details?.amount_discount ?? 0;
  if (discount <= 0) return '';
  return `<tr><td>Discount</td><td class="num" id="discount">−${money(discount, session.currency ?? 'usd')}</td></tr>`;
}

/** `allow_promotion_codes`: Checkout's "Add promotion code" box. */
function promotionCodeBox(session: Stripe.Checkout.Session, typed: string): string {
  if (!session.allow_promotion_codes) return '';
  return `<label>Promotion code <input name="promotion_code" id="promotion_code" value="${esc(typed)}" autocomplete="off"></label>`;
}

function form(
  session: Stripe.Checkout.Session,
  error: string | null,
  card = '',
  email = '',
  promotionCode = '',
): string {
  const lines = (session.line_items?.data ?? [])
    .map((l) => {
      const r = l.price?.recurring;
      const every = r ? ` / ${r.interval_count > 1 ? `${r.interval_count} ` : ''}${r.interval}` : '';
      // A metered price has no quantity: its usage is billed after each period.
      if (r?.usage_type === 'metered')
        return `<tr><td>${esc(l.description ?? '')} (usage, billed after each ${r.interval})</td><td class="num">—</td></tr>`;
      return `<tr><td>${esc(l.description ?? '')} × ${l.quantity ?? 1}</td><td class="num">${money(l.amount_subtotal, l.currency)}${every}</td></tr>`;
    })
    .join('');
  const needEmail = !session.customer && !session.customer_email;
  const body = `
<h1>Checkout</h1>
<p class="muted">Test mode — emulator. Session <code>${esc(session.id)}</code> · mode ${esc(session.mode)}</p>
${lines ? `<table>${lines}${discountRow(session)}<tr><th>Total</th><th class="num">${money(session.amount_total ?? 0, session.currency ?? 'usd')}</th></tr></table>` : ''}
${error ? `<p class="error" role="alert" id="error">${esc(error)}</p>` : ''}
<form method="post" action="/checkout/pay/${esc(session.id)}">
  ${
    needEmail
      ? `<label>Email <input type="email" name="email" id="email" value="${esc(email)}" autocomplete="email"></label>`
      : `<p>Email: ${esc(session.customer_email ?? session.customer_details?.email ?? '')}</p>`
  }
  ${promotionCodeBox(session, promotionCode)}
  <label>Card number <input name="card" id="card" inputmode="numeric" value="${esc(card)}" placeholder="4242 4242 4242 4242" required></label>
  <div class="row"><label>Expiry <input name="exp" id="exp" value="12 / 34"></label><label>CVC <input name="cvc" id="cvc" value="123"></label></div>
  <button type="submit" id="submit">${session.mode === 'setup' ? 'Save card' : session.mode === 'subscription' ? 'Subscribe' : 'Pay'}</button>
</form>
${session.cancel_url ? `<p><a id="cancel" href="${esc(session.cancel_url)}">Cancel and go back</a></p>` : ''}
<p class="muted">Test cards: 4242 4242 4242 4242 (succeeds), 4000 0000 0000 0002 (declined), 4000 0000 0000 9995 (insufficient funds), 4000 0000 0000 0341 (charge fails).</p>`;
  return layout('Checkout', body);
}

function customerOf(emulator: Emulator, session: Stripe.Checkout.Session): Stripe.Customer | null {
  const customerId = typeof session.customer === 'string' ? session.customer : (session.customer?.id ?? null);
  return customerId ? (emulator.store.get(COLLECTIONS.customer, customerId) ?? null) : null;
}

function errorMessage(e: unknown): string | null {
  if (e instanceof StripeApiError) return e.body.message;
  return null;
}

/** Creates the card payment method from a typed number and completes the session. */
function completeWithCard(
  emulator: Emulator,
  session: Stripe.Checkout.Session,
  card: string,
  email: string | null,
): Stripe.Checkout.Session {
  const paymentMethod = createCardPaymentMethod(emulator, card, email ? { billing_details: { email } } : {});
  return completeSession(emulator, session, paymentMethod.id, email);
}

function showPage(req: ApiRequest): HttpResponse {
  const session = requireSession(req.emulator, req.pathParams.id);
  if (session.status === 'complete') {
    const to = successRedirect(session);
    if (to) return HttpResponse.redirect(to);
  }
  if (session.status !== 'open') {
    return HttpResponse.html(
      layout('Checkout', `<h1>This Checkout Session is ${esc(session.status)}.</h1>`),
      410,
    );
  }
  return HttpResponse.html(form(session, null));
}

function submitPage(req: ApiRequest): HttpResponse {
  const { emulator, input } = req;
  const session = requireSession(emulator, req.pathParams.id);
  const card = (input.str('card') ?? '').replace(/[\s-]/g, '');
  const email = input.str('email') || null;
  const promotionCode = (input.str('promotion_code') ?? '').trim();
  try {
    if (promotionCode) applyTypedCode(emulator, session, promotionCode, customerOf(emulator, session));
    emulator.store.put(COLLECTIONS.checkoutSession, session);
    if (!card) throw invalidRequest('Your card number is incomplete.', 'card');
    const done = completeWithCard(emulator, session, card, email);
    const to = successRedirect(done);
    return to
      ? HttpResponse.redirect(to)
      : HttpResponse.html(layout('Checkout', '<h1>Payment complete</h1>'));
  } catch (e) {
    const msg = errorMessage(e);
    if (msg === null) throw e;
    return HttpResponse.html(
      form(requireSession(emulator, session.id), msg, input.str('card') ?? '', email ?? '', promotionCode),
      402,
    );
  }
}

export const routes: Route[] = [
  { method: 'GET', path: '/checkout/pay/:id', handler: showPage },
  { method: 'POST', path: '/checkout/pay/:id', handler: submitPage },
  {
    method: 'POST',
    path: '/_emulator/checkout/sessions/:id/complete',
    handler: ({ emulator, input, pathParams }) => {
      const session = requireSession(emulator, pathParams.id);
      const card = (input.str('card') ?? '4242424242424242').replace(/[\s-]/g, '');
      // The code a customer would type into the page's promotion code box.
      const promotionCode = input.str('promotion_code');
      if (promotionCode) applyTypedCode(emulator, session, promotionCode, customerOf(emulator, session));
      return completeWithCard(emulator, session, card, input.str('email') ?? null);
    },
  },
  {
    // Undocumented endpoint the Stripe CLI's checkout triggers read before confirming.
    method: 'GET',
    path: '/v1/payment_pages/:id',
    handler: ({ emulator, pathParams }) => requireSession(emulator, pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/payment_pages/:id/confirm',
    handler: ({ emulator, input, pathParams }) => {
      const session = requireSession(emulator, pathParams.id);
      const expected = input.int('expected_amount');
      if (expected !== undefined && session.amount_total !== null && expected !== session.amount_total) {
        throw invalidRequest(
          `The expected_amount (${expected}) does not match the session's amount (${session.amount_total}).`,
          'expected_amount',
        );
      }
      const paymentMethod = resolvePaymentMethod(emulator, input.reqStr('payment_method'), 'payment_method');
      if (session.customer && !paymentMethod.customer)
        attachPaymentMethod(emulator, paymentMethod.id, String(session.customer));
      return completeSession(
        emulator,
        session,
        paymentMethod.id,
        paymentMethod.billing_details?.email ?? null,
      );
    },
  },
];
