/**
 * The AI credits section of the billing page (docs/credits.md): what the account can spend now, what work in progress
 * holds, what expires soon, the latest entries of its ledger, and the packs it can buy. The balance moves live
 * (`balanceUpdated`) as grants, purchases and model calls change it.
 */
import type { CreditsView } from './api.js';
import { count, day, h, money } from './dom.js';

const KIND_NAMES: Record<string, string> = {
  GRANT: 'Granted',
  PURCHASE: 'Bought',
  INCLUDED: 'Included with the plan',
  BURN: 'Used',
  EXPIRY: 'Expired',
  REFUND: 'Refunded',
  ADJUSTMENT: 'Adjusted',
  ROLLOVER: 'Carried over',
};

export interface CreditActions {
  buyPack(packKey: string): void;
}

/** The section, or null before the credits are read (or when the service has none to show). */
export function creditsSection(
  credits: CreditsView | null,
  busy: boolean,
  actions: CreditActions,
): HTMLElement | null {
  if (!credits) return null;
  const { balance, creditLedger } = credits.viewer;
  const expiring = balance.expiringSoon;
  return h(
    'section',
    { id: 'credits' },
    h('h2', {}, 'AI credits'),
    h(
      'p',
      { id: 'credits-balance' },
      h('strong', { id: 'credits-available' }, count(balance.available)),
      ' credits available',
      balance.held > 0
        ? h(
            'span',
            { class: 'muted', id: 'credits-held' },
            ` (${count(balance.held)} held for work in progress)`,
          )
        : null,
    ),
    expiring
      ? h(
          'p',
          { class: 'muted', id: 'credits-expiring' },
          `${count(expiring.credits)} expire ${day(expiring.at)}`,
        )
      : null,
    creditLedger.nodes.length > 0
      ? h(
          'ul',
          { id: 'credit-ledger' },
          ...creditLedger.nodes.map((entry) =>
            h(
              'li',
              { class: 'credit-entry' },
              `${day(entry.createdAt)} · ${KIND_NAMES[entry.kind] ?? entry.kind} `,
              h('strong', {}, `${entry.credits > 0 ? '+' : ''}${count(entry.credits)}`),
              entry.reason ? h('span', { class: 'muted' }, ` ${entry.reason}`) : null,
            ),
          ),
        )
      : h('p', { class: 'muted', id: 'credit-ledger-empty' }, 'No credits yet.'),
    credits.creditPacks.length > 0
      ? h(
          'div',
          { id: 'credit-packs' },
          ...credits.creditPacks.map((pack) =>
            h(
              'button',
              {
                id: `buy-pack-${pack.key}`,
                class: 'secondary',
                disabled: busy,
                onclick: () => actions.buyPack(pack.key),
              },
              `Buy ${pack.name} for ${money(pack.price.amount, pack.price.currency)}`,
            ),
          ),
        )
      : null,
  );
}
