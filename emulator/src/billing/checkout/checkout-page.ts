/**
 * The hosted Checkout page (`session.url` = `/checkout/pay/{id}`): a plain HTML form for a test
 * card number (no JavaScript). Submitting it completes the session as Stripe does and answers a
 * 303 redirect to `success_url` (`{CHECKOUT_SESSION_ID}` filled in); a declined card re-shows the
 * form with the error. A card whose issuer asks for 3-D Secure (4000 0027 6000 3184, …3155, …3178) goes first to the
 * challenge (`/checkout/pay/{id}/authenticate`), as Stripe's Checkout runs it in its page: completed, the session
 * completes (…3178 is then declined); failed, the form is shown again with the error and the session stays open.
 * Also:
 * - `POST /_emulator/checkout/sessions/{id}/complete` (`card`, optional `email`; for a card that asks,
 *   `authentication=succeed|fail`; with automatic tax the billing address `country`, `postal_code`, `state`,
 *   `line1`, `city`): the same completion for tests without a browser; answers the completed session
 *   (402 on a decline or a failed authentication).
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
import { readCollectedAddress } from './checkout-tax';
import type { Emulator } from '../context';
import { esc, layout, money } from '../../pages/html';
import { needsAuthentication, withApprovedAuthentication } from '../payments/authentication';
import { challengeForm } from '../payments/authentication-routes';
import { cardError } from '../../core/errors';
import { COLLECTIONS } from '../../core/collections';
import { applyTypedCode } from '../discounts/checkout-discounts';

/**
 * What the customer sees when the challenge fails; the code is the intent's (`payment_intent_authentication_failure`,
 * https://docs.stripe.com/error-codes#payment-intent-authentication-failure; a setup's is `setup_intent_…`).
 */
const AUTHENTICATION_FAILED =
  'We are unable to authenticate your payment method. Please choose a different payment method and try again.';

/** A page waiting for the answer to the card's challenge: the card already made, and the email typed. */
interface PendingAuthentication {
  /** The Checkout Session's id. */
  id: string;
  paymentMethod: string;
  email: string | null;
  /** The billing address typed (automatic tax). */
  address?: Stripe.Address | null;
}

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
  ${session.automatic_tax.enabled ? addressFields() : ''}
  ${promotionCodeBox(session, promotionCode)}
  <label>Card number <input name="card" id="card" inputmode="numeric" value="${esc(card)}" placeholder="4242 4242 4242 4242" required></label>
  <div class="row"><label>Expiry <input name="exp" id="exp" value="12 / 34"></label><label>CVC <input name="cvc" id="cvc" value="123"></label></div>
  <button type="submit" id="submit">${session.mode === 'setup' ? 'Save card' : session.mode === 'subscription' ? 'Subscribe' : 'Pay'}</button>
</form>
${session.cancel_url ? `<p><a id="cancel" href="${esc(session.cancel_url)}">Cancel and go back</a></p>` : ''}
<p class="muted">Test cards: 4242 4242 4242 4242 (succeeds), 4000 0000 0000 0002 (declined), 4000 0000 0000 9995 (insufficient funds), 4000 0000 0000 0341 (charge fails), 4000 0027 6000 3184 (asks for 3-D Secure).</p>`;
  return layout('Checkout', body);
}

/** Billing address fields: Checkout collects the address tax needs when automatic tax is on. */
function addressFields(): string {
  return `<fieldset id="billing-address"><legend>Billing address</legend>
  <label>Country <input name="country" id="country" placeholder="DE" required></label>
  <div class="row"><label>Postal code <input name="postal_code" id="postal_code"></label><label>State <input name="state" id="state"></label></div>
  </fieldset>`;
}

function customerOf(emulator: Emulator, session: Stripe.Checkout.Session): Stripe.Customer | null {
  const customerId = typeof session.customer === 'string' ? session.customer : (session.customer?.id ?? null);
  return customerId ? (emulator.store.get(COLLECTIONS.customer, customerId) ?? null) : null;
}

function errorMessage(e: unknown): string | null {
  if (e instanceof StripeApiError) return e.body.message;
  return null;
}

/** The error the page shows the customer for a failed challenge (402, as a card error). */
function authenticationFailed(session: Stripe.Checkout.Session): Error {
  const code =
    session.mode === 'setup'
      ? 'setup_intent_authentication_failure'
      : 'payment_intent_authentication_failure';
  return cardError(code, AUTHENTICATION_FAILED);
}

/** The page's answer once the session completed: to `success_url`, or a plain confirmation. */
function completedPage(session: Stripe.Checkout.Session): HttpResponse {
  const to = successRedirect(session);
  return to ? HttpResponse.redirect(to) : HttpResponse.html(layout('Checkout', '<h1>Payment complete</h1>'));
}

/** The form again with `error` (402): the session stays open for another card. */
function formWithError(
  emulator: Emulator,
  sessionId: string,
  error: string,
  card = '',
  email = '',
  promotionCode = '',
): HttpResponse {
  return HttpResponse.html(form(requireSession(emulator, sessionId), error, card, email, promotionCode), 402);
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
  const address = readCollectedAddress(input);
  try {
    if (promotionCode) applyTypedCode(emulator, session, promotionCode, customerOf(emulator, session));
    emulator.store.put(COLLECTIONS.checkoutSession, session);
    if (!card) throw invalidRequest('Your card number is incomplete.', 'card');
    const paymentMethod = createCardPaymentMethod(
      emulator,
      card,
      email ? { billing_details: { email } } : {},
    );
    // The customer is present: a card whose issuer asks is challenged before anything is paid or saved.
    if (needsAuthentication(emulator, paymentMethod.id, false)) {
      const pending: PendingAuthentication = {
        id: session.id,
        paymentMethod: paymentMethod.id,
        email,
        address,
      };
      emulator.store.put(COLLECTIONS.checkoutAuthentication, pending);
      return HttpResponse.redirect(`/checkout/pay/${session.id}/authenticate`);
    }
    return completedPage(completeSession(emulator, session, paymentMethod.id, email, address));
  } catch (e) {
    const msg = errorMessage(e);
    if (msg === null) throw e;
    return formWithError(emulator, session.id, msg, input.str('card') ?? '', email ?? '', promotionCode);
  }
}

function challengePage(req: ApiRequest): HttpResponse {
  const session = requireSession(req.emulator, req.pathParams.id);
  const pending = req.emulator.store.get(COLLECTIONS.checkoutAuthentication, session.id);
  if (!pending || session.status !== 'open') return HttpResponse.redirect(`/checkout/pay/${session.id}`);
  const what =
    session.mode === 'setup'
      ? 'saving this card for future payments'
      : `a payment of <strong>${money(session.amount_total ?? 0, session.currency ?? 'usd')}</strong>`;
  return HttpResponse.html(challengeForm(what, `/checkout/pay/${session.id}/authenticate`));
}

/** The answer to the challenge: the session completes with the approved card, or the form shows why not. */
function answerChallenge(req: ApiRequest): HttpResponse {
  const { emulator, input } = req;
  const session = requireSession(emulator, req.pathParams.id);
  const pending = emulator.store.get(COLLECTIONS.checkoutAuthentication, session.id);
  if (!pending) return HttpResponse.redirect(`/checkout/pay/${session.id}`);
  emulator.store.delete(COLLECTIONS.checkoutAuthentication, session.id);
  const outcome = input.oneOf('outcome', ['succeed', 'fail'] as const) ?? 'fail';
  try {
    if (outcome === 'fail') throw authenticationFailed(session);
    return completedPage(
      withApprovedAuthentication(emulator, pending.paymentMethod, () =>
        completeSession(emulator, session, pending.paymentMethod, pending.email, pending.address ?? null),
      ),
    );
  } catch (e) {
    const msg = errorMessage(e);
    if (msg === null) throw e;
    return formWithError(emulator, session.id, msg, '', pending.email ?? '');
  }
}

/** `/_emulator/…/complete`: the page's completion in one request, the challenge answered by `authentication`. */
function completeForTests(req: ApiRequest): Stripe.Checkout.Session {
  const { emulator, input } = req;
  const session = requireSession(emulator, req.pathParams.id);
  const card = (input.str('card') ?? '4242424242424242').replace(/[\s-]/g, '');
  const email = input.str('email') ?? null;
  const address = readCollectedAddress(input);
  // The code a customer would type into the page's promotion code box.
  const promotionCode = input.str('promotion_code');
  if (promotionCode) applyTypedCode(emulator, session, promotionCode, customerOf(emulator, session));
  const paymentMethod = createCardPaymentMethod(emulator, card, email ? { billing_details: { email } } : {});
  if (!needsAuthentication(emulator, paymentMethod.id, false))
    return completeSession(emulator, session, paymentMethod.id, email, address);
  const outcome = input.oneOf('authentication', ['succeed', 'fail'] as const);
  if (!outcome)
    throw invalidRequest(
      'This card asks for 3-D Secure: pass authentication=succeed or authentication=fail.',
      'authentication',
    );
  if (outcome === 'fail') throw authenticationFailed(session);
  return withApprovedAuthentication(emulator, paymentMethod.id, () =>
    completeSession(emulator, session, paymentMethod.id, email, address),
  );
}

export const routes: Route[] = [
  { method: 'GET', path: '/checkout/pay/:id', handler: showPage },
  { method: 'POST', path: '/checkout/pay/:id', handler: submitPage },
  { method: 'GET', path: '/checkout/pay/:id/authenticate', handler: challengePage },
  { method: 'POST', path: '/checkout/pay/:id/authenticate', handler: answerChallenge },
  { method: 'POST', path: '/_emulator/checkout/sessions/:id/complete', handler: completeForTests },
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

declare module '../../core/collections' {
  interface CollectionRecords {
    _checkout_authentication: PendingAuthentication;
  }
}
