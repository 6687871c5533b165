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
  setAutoTopUp(settings: { enabled: boolean; belowCredits: number; packKey: string }): void;
  /** Cents per period, or null for no limit. */
  setSpendLimit(monthlyCents: number | null): void;
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
    membersTable(credits),
    autoTopUpForm(credits, busy, actions),
    spendLimitForm(credits, busy, actions),
  );
}

/**
 * The spend limit: what the account may owe beyond its plan this period (AI credits billed as overage and automatic
 * top-ups), what it has spent (live: it comes with the balance), and the form to change it, in whole currency units.
 */
function spendLimitForm(credits: CreditsView, busy: boolean, actions: CreditActions): HTMLElement {
  const spend = credits.viewer.balance.spend;
  const limit = h('input', {
    id: 'spend-limit-amount',
    type: 'number',
    min: '0',
    step: '1',
    placeholder: 'no limit',
    value: spend.monthlyCents === null ? '' : String(Math.floor(spend.monthlyCents / 100)),
  });
  return h(
    'form',
    {
      id: 'spend-limit',
      onsubmit: (event) => {
        event.preventDefault();
        // Whole units of the currency, typed by a person: cents by integer arithmetic, never a float.
        const units = limit.value.trim();
        if (units !== '' && !/^\d{1,7}$/.test(units)) return;
        actions.setSpendLimit(units === '' ? null : Number(units) * 100);
      },
    },
    h(
      'p',
      { id: 'spend-status', class: spend.remainingCents === 0 ? 'error' : 'muted' },
      spend.monthlyCents === null
        ? `${money(spend.spentCents, spend.currency)} spent beyond your plan this period (no limit)`
        : `${money(spend.spentCents, spend.currency)} of ${money(spend.monthlyCents, spend.currency)} spent beyond your plan this period`,
      spend.overageBilled ? null : ' · calls your credits cannot cover are refused on this plan',
    ),
    h(
      'label',
      {},
      `Limit what you may owe beyond your plan per period (${spend.currency.toUpperCase()}) `,
      limit,
    ),
    h('button', { id: 'spend-limit-save', type: 'submit', class: 'secondary', disabled: busy }, 'Save'),
  );
}

/** Team members with a monthly limit or use this month: what each used and may still start. */
function membersTable(credits: CreditsView): HTMLElement | null {
  const members = credits.viewer.memberUsage.nodes;
  if (members.length === 0) return null;
  return h(
    'table',
    { id: 'members' },
    h(
      'tr',
      {},
      h('th', {}, 'Member'),
      h('th', {}, 'Used this month'),
      h('th', {}, 'Monthly limit'),
      h('th', {}, 'Left'),
    ),
    ...members.map((member) =>
      h(
        'tr',
        { id: `member-${member.memberId}`, class: member.remaining === 0 ? 'member at-limit' : 'member' },
        h('td', {}, member.memberId),
        h('td', {}, count(member.used)),
        h('td', {}, member.monthlyCredits === null ? 'no limit' : count(member.monthlyCredits)),
        h(
          'td',
          {},
          member.remaining === null
            ? '—'
            : member.remaining === 0
              ? 'limit reached'
              : count(member.remaining),
        ),
      ),
    ),
  );
}

/**
 * Automatic top-up: a pack charged to the saved card when the available credits fall below a threshold (once per
 * crossing; a decline turns it off and says why here).
 */
function autoTopUpForm(credits: CreditsView, busy: boolean, actions: CreditActions): HTMLElement | null {
  const packs = credits.creditPacks;
  if (packs.length === 0) return null;
  const current = credits.viewer.autoTopUp;
  const enabled = h('input', {
    id: 'auto-top-up-enabled',
    type: 'checkbox',
    checked: current?.enabled ?? false,
  });
  const below = h('input', {
    id: 'auto-top-up-below',
    type: 'number',
    min: '1',
    value: String(current?.belowCredits ?? 1000),
  });
  const pack = h(
    'select',
    { id: 'auto-top-up-pack' },
    ...packs.map((candidate) =>
      h(
        'option',
        { value: candidate.key, selected: candidate.key === (current?.packKey ?? packs[0]?.key) },
        `${candidate.name} (${money(candidate.price.amount, candidate.price.currency)})`,
      ),
    ),
  );
  return h(
    'form',
    {
      id: 'auto-top-up',
      onsubmit: (event) => {
        event.preventDefault();
        actions.setAutoTopUp({
          enabled: enabled.checked,
          belowCredits: Number(below.value),
          packKey: pack.value,
        });
      },
    },
    h('label', {}, enabled, ' Top up automatically with '),
    pack,
    h('label', {}, ' when fewer than ', below, ' credits are left '),
    h('button', { id: 'auto-top-up-save', type: 'submit', class: 'secondary', disabled: busy }, 'Save'),
    current?.lastFailure
      ? h(
          'p',
          { class: 'error', id: 'auto-top-up-failure' },
          `Automatic top-up stopped: ${current.lastFailure.replaceAll('_', ' ')}. Check your card and turn it on again.`,
        )
      : null,
  );
}
