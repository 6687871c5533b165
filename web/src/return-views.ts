/**
 * The pages Checkout returns to. Success reads the session (`checkoutSession(id)`, which also stores the
 * subscription at once, before any webhook), says so, and then shows the billing page, which follows
 * `accountUpdated` as the webhooks land. Cancel says nothing was charged and shows the billing page.
 */
import type { BillingApi } from './api.js';
import { showBillingPage } from './billing-view.js';
import { h } from './dom.js';

export async function showCheckoutReturn(
  view: 'success' | 'cancel',
  root: HTMLElement,
  api: BillingApi,
  base: string,
): Promise<void> {
  // The billing page's own address again, so a reload does not re-read the session.
  const back = () => window.history.replaceState(null, '', base);
  if (view === 'cancel') {
    back();
    const banner = h(
      'p',
      { class: 'notice', id: 'checkout-canceled' },
      'Checkout canceled: nothing was charged.',
    );
    return showBillingPage(root, api, { base, banner });
  }

  const sessionId = new URL(window.location.href).searchParams.get('session_id');
  const banner = h('p', { class: 'notice success', id: 'checkout-result' }, 'Confirming your payment…');
  root.replaceChildren(banner);
  const session = sessionId ? await api.checkoutSession(sessionId) : null;
  if (session?.status === 'complete' && session.subscription) {
    const { plan, status } = session.subscription;
    banner.textContent = `Thank you! You are subscribed to ${plan.name} (${status.toLowerCase()}).`;
  } else if (session?.status === 'complete') {
    banner.textContent = 'Thank you! Your payment went through; your plan appears below in a moment.';
  } else {
    banner.className = 'notice warning';
    banner.textContent = 'This checkout was not completed; nothing was charged.';
  }
  back();
  return showBillingPage(root, api, { base, banner });
}

/**
 * Where Checkout returns after a credit pack is paid: the credits come with the payment's webhook, and the page shows
 * them live (`balanceUpdated`), so there is nothing to read here but the thanks.
 */
export async function showCreditsReturn(root: HTMLElement, api: BillingApi, base: string): Promise<void> {
  window.history.replaceState(null, '', base);
  const banner = h(
    'p',
    { class: 'notice success', id: 'checkout-result' },
    'Thank you! Your credits appear below as soon as the payment is confirmed.',
  );
  return showBillingPage(root, api, { base, banner });
}
