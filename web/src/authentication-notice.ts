/**
 * The authentication step: a payment waits for the customer's bank (3-D Secure). The page never sees a card: the
 * button opens `pendingAction.url`, Stripe's hosted invoice page, which runs the bank's challenge (and takes another
 * card if it fails). The outcome comes back on `accountUpdated`, so this notice goes away by itself once paid.
 */
import type { AccountView } from './api.js';
import { day, h, money } from './dom.js';

export function authenticationNotice(account: AccountView): HTMLElement | null {
  const action = account.pendingAction;
  if (!action) return null;
  const amount = money(action.amountDue, action.currency);
  const renewal = account.subscription?.status === 'PAST_DUE' || account.subscription?.status === 'UNPAID';
  const upgrade = account.subscription?.pendingChange;
  let what = `Your bank asks you to approve the payment of ${amount} before your subscription starts.`;
  let until = action.expiresAt
    ? ` Approve it by ${day(action.expiresAt)}, or the subscription is not started.`
    : '';
  if (renewal) what = `Your bank asks you to approve the renewal payment of ${amount}.`;
  if (upgrade) {
    what = `Your bank asks you to approve the payment of ${amount} for your upgrade to ${upgrade.plan.name}.`;
    until = ` Approve it by ${day(upgrade.expiresAt)}, or your plan stays as it is.`;
  }
  return h(
    'p',
    { class: 'notice warning', id: 'authenticate-notice' },
    `${what}${until} `,
    // A new tab: this page stays open and hears the outcome live.
    h(
      'a',
      { id: 'authenticate', class: 'button', href: action.url, target: '_blank', rel: 'noopener' },
      'Approve payment',
    ),
  );
}
