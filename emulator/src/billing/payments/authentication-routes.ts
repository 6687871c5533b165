/**
 * Where a customer answers a 3-D Secure challenge: the hosted page a `next_action.redirect_to_url.url` points at
 * (a browser approves or fails it, then goes back to the `return_url`), and
 * `POST /_emulator/payment_intents/{id}/authenticate` (`outcome=succeed|fail`) for tests without a browser.
 * Stripe's test mode shows the same choice on its own challenge page ("Complete" / "Fail" authentication,
 * https://docs.stripe.com/testing#regulatory-cards). The answer reaches the intent's invoice as a payment would:
 * paid (`invoice.paid`, the subscription active) or one more failed attempt (`invoice.payment_failed`).
 * A setup intent's challenge (`seti_…`, `setup-authentication.ts`) is answered on the same page, and by
 * `POST /_emulator/setup_intents/{id}/authenticate`.
 */
import type Stripe from 'stripe';
import { HttpResponse, type ApiRequest, type Route } from '../../core/http';
import { esc, layout, money } from '../../pages/html';
import type { Emulator } from '../context';
import { invoicePaidByIntent, invoicePaymentFailedByIntent } from '../invoices/invoices';
import { type AuthenticationOutcome, completeAuthentication, returnUrlOf } from './authentication';
import { completeSetupAuthentication, setupReturnUrlOf } from './setup-authentication';
import { COLLECTIONS } from '../../core/collections';

function requirePaymentIntent(emulator: Emulator, paymentIntentId: string): Stripe.PaymentIntent {
  return emulator.store.require(COLLECTIONS.paymentIntent, paymentIntentId, 'payment_intent');
}

/** Answers the challenge and tells the intent's invoice, if it has one. */
export function authenticate(
  emulator: Emulator,
  paymentIntentId: string,
  outcome: AuthenticationOutcome,
): Stripe.PaymentIntent {
  const paymentIntent = requirePaymentIntent(emulator, paymentIntentId);
  const result = completeAuthentication(emulator, paymentIntent, outcome);
  if (result?.ok) invoicePaidByIntent(emulator, paymentIntent.id);
  else invoicePaymentFailedByIntent(emulator, paymentIntent.id);
  return paymentIntent;
}

function requireSetupIntent(emulator: Emulator, setupIntentId: string): Stripe.SetupIntent {
  return emulator.store.require(COLLECTIONS.setupIntent, setupIntentId, 'setup_intent');
}

/** Setup intent ids start `seti_` (https://docs.stripe.com/api/setup_intents/object), payment intents `pi_`. */
function isSetupIntent(intentId: string): boolean {
  return intentId.startsWith('seti_');
}

/**
 * The bank's challenge: `what` is asked to be approved; the form posts to `action` (the buttons are those of
 * Stripe's test challenge; the Checkout page's challenge uses this too).
 */
export function challengeForm(what: string, action: string): string {
  return layout(
    '3D Secure',
    `<h1>Authenticate your payment</h1>
<p>Your bank asks you to approve ${what}.</p>
<form method="post" action="${esc(action)}">
  <button type="submit" name="outcome" value="succeed" id="complete">Complete authentication</button>
  <button type="submit" name="outcome" value="fail" id="fail">Fail authentication</button>
</form>
<p class="muted">A test-mode challenge: no bank is asked.</p>`,
  );
}

function challengePage(emulator: Emulator, intentId: string): string {
  const intent = isSetupIntent(intentId)
    ? requireSetupIntent(emulator, intentId)
    : requirePaymentIntent(emulator, intentId);
  if (intent.status !== 'requires_action') {
    return layout(
      '3D Secure',
      `<h1>Nothing to authenticate</h1><p>This ${intent.object === 'setup_intent' ? 'card setup' : 'payment'} is <strong id="status">${esc(intent.status)}</strong>.</p>`,
    );
  }
  const what =
    intent.object === 'setup_intent'
      ? 'saving this card for future payments'
      : `a payment of <strong>${money(intent.amount, intent.currency)}</strong>`;
  return challengeForm(what, `/authenticate/${intent.id}`);
}

/** Answers a setup intent's challenge, then back to its `return_url` (with `setup_intent`) if it named one. */
function answerSetupPage(req: ApiRequest, outcome: AuthenticationOutcome): HttpResponse {
  const before = requireSetupIntent(req.emulator, req.pathParams.id);
  const returnUrl = setupReturnUrlOf(before);
  const setupIntent = completeSetupAuthentication(req.emulator, before, outcome);
  if (returnUrl) {
    const to = new URL(returnUrl);
    to.searchParams.set('setup_intent', setupIntent.id);
    return HttpResponse.redirect(to.toString());
  }
  return HttpResponse.html(
    layout(
      '3D Secure',
      `<h1>Authentication ${outcome === 'succeed' ? 'complete' : 'failed'}</h1><p>The card setup is <strong id="status">${esc(setupIntent.status)}</strong>.</p>`,
    ),
  );
}

function answerPage(req: ApiRequest): HttpResponse {
  const outcome = req.input.oneOf('outcome', ['succeed', 'fail'] as const) ?? 'fail';
  if (isSetupIntent(req.pathParams.id)) return answerSetupPage(req, outcome);
  const before = requirePaymentIntent(req.emulator, req.pathParams.id);
  const returnUrl = returnUrlOf(before);
  const paymentIntent = authenticate(req.emulator, before.id, outcome);
  if (returnUrl) {
    // Stripe appends the intent's id to the return URL (https://docs.stripe.com/payments/3d-secure/authentication-flow).
    const to = new URL(returnUrl);
    to.searchParams.set('payment_intent', paymentIntent.id);
    return HttpResponse.redirect(to.toString());
  }
  return HttpResponse.html(
    layout(
      '3D Secure',
      `<h1>Authentication ${outcome === 'succeed' ? 'complete' : 'failed'}</h1><p>The payment is <strong id="status">${esc(paymentIntent.status)}</strong>.</p>`,
    ),
  );
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/authenticate/:id',
    handler: ({ emulator, pathParams }) => HttpResponse.html(challengePage(emulator, pathParams.id)),
  },
  { method: 'POST', path: '/authenticate/:id', handler: answerPage },
  {
    method: 'POST',
    path: '/_emulator/payment_intents/:id/authenticate',
    handler: ({ emulator, input, pathParams }) =>
      authenticate(
        emulator,
        pathParams.id,
        input.oneOf('outcome', ['succeed', 'fail'] as const) ?? 'succeed',
      ),
  },
  {
    method: 'POST',
    path: '/_emulator/setup_intents/:id/authenticate',
    handler: ({ emulator, input, pathParams }) =>
      completeSetupAuthentication(
        emulator,
        requireSetupIntent(emulator, pathParams.id),
        input.oneOf('outcome', ['succeed', 'fail'] as const) ?? 'succeed',
      ),
  },
];
