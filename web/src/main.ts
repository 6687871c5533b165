/**
 * Entry point. One bundle serves three addresses, all in the same folder:
 * - `…/billing/`          the billing page;
 * - `…/billing/success`   where Checkout returns after paying (`?session_id=cs_…`);
 * - `…/billing/cancel`    where Checkout returns when the user goes back.
 *
 * The page needs the CODITECT app's JWT. The app opens it with `?token=…` (taken out of the address at once
 * and kept for this tab only); in development the service also offers a sign-in that mints one.
 */
import { ApiError, BillingApi } from './api.js';
import { showBillingPage } from './billing-view.js';
import { h } from './dom.js';
import { showCheckoutReturn, showCreditsReturn } from './return-views.js';

const TOKEN_KEY = 'coditect-billing-token';
const root = document.getElementById('app') as HTMLElement;
/** Where the GraphQL API is: `<html data-graphql-url>`, by default the origin that served the page. */
const graphqlUrl = document.documentElement.dataset.graphqlUrl ?? '/graphql';
/** The page's folder, e.g. http://127.0.0.1:4000/billing/: Checkout and the portal come back here. */
const base = new URL('./', window.location.href).href;

function takeToken(): string | null {
  const url = new URL(window.location.href);
  const given = url.searchParams.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    // Out of the address bar, the history and any Referer.
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Development only: the service answers 404 here in production, and the page asks for `?token=` instead. */
async function showSignIn(): Promise<void> {
  const available = await fetch(`${base}dev-sign-in`).then(
    (response) => response.ok,
    () => false,
  );
  if (!available) {
    root.replaceChildren(
      h('h1', {}, 'Billing'),
      h('p', { id: 'signed-out' }, 'Open this page from the CODITECT app: it signs you in.'),
    );
    return;
  }
  const account = h('input', {
    id: 'account-id',
    name: 'accountId',
    required: true,
    pattern: '[\\w.-]{1,64}',
  });
  const email = h('input', { id: 'email', name: 'email', type: 'email', required: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { id: 'sign-in' },
    h('h1', {}, 'Sign in (development)'),
    h('p', { class: 'muted' }, 'Mints a token for any account id. Never offered in production.'),
    h('label', {}, 'Account id ', account),
    h('label', {}, 'Email ', email),
    error,
    h('button', { id: 'sign-in-submit', type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const response = await fetch(`${base}dev-sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accountId: account.value, email: email.value }),
    });
    if (!response.ok) {
      error.textContent = `Sign-in failed (${response.status}).`;
      error.hidden = false;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, ((await response.json()) as { token: string }).token);
    window.location.reload();
  });
  root.replaceChildren(form);
}

async function main(): Promise<void> {
  const token = takeToken();
  if (!token) return showSignIn();
  const api = new BillingApi(graphqlUrl, token);
  const view = window.location.pathname.split('/').pop();
  if (view === 'success' || view === 'cancel') return showCheckoutReturn(view, root, api, base);
  if (view === 'credits-success') return showCreditsReturn(root, api, base);
  return showBillingPage(root, api, { base });
}

main().catch((error: unknown) => {
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    // Expired or from another environment: ask again.
    sessionStorage.removeItem(TOKEN_KEY);
    void showSignIn();
    return;
  }
  console.error(error);
  root.replaceChildren(
    h('p', { class: 'error', role: 'alert', id: 'error' }, 'The billing page could not load. Please reload.'),
  );
});
