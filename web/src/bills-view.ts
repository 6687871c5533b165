/**
 * Cards, the next bill and one invoice in full: the parts of the billing page about paying. Each is a pure
 * function of what the API answered and the callbacks the page gives it.
 */
import type { AccountView, InvoiceDetailsView, NextBillView } from './api.js';
import { day, h, label, money } from './dom.js';
import { taxRows } from './tax-view.js';

export interface CardActions {
  addCard(): void;
  makeDefault(id: string): void;
  remove(id: string): void;
}

/** Every card on file, the default marked; add one on Stripe's page, make one the default, remove one. */
export function cardsSection(account: AccountView, busy: boolean, actions: CardActions): HTMLElement | null {
  if (!account.customer) return null;
  const cards = account.paymentMethods;
  // `#card` names the card charged next (the first one while none is marked default).
  const charged = cards.find((card) => card.isDefault) ?? cards[0];
  return h(
    'section',
    { id: 'payment-method' },
    h('h2', {}, 'Payment methods'),
    cards.length === 0 ? h('p', { id: 'card' }, 'No card on file') : null,
    ...cards.map((card) =>
      h(
        'div',
        {
          class: 'card-row',
          'data-card': card.last4 ?? '',
          'data-default': card.isDefault ? 'true' : 'false',
        },
        h(
          'span',
          { class: 'card-name' },
          h(
            'span',
            card === charged ? { id: 'card' } : {},
            `${label(card.brand ?? 'card')} •••• ${card.last4 ?? ''}`,
          ),
          card.expMonth && card.expYear ? ` (expires ${card.expMonth}/${card.expYear})` : '',
        ),
        card.isDefault
          ? h('span', { class: 'default-card' }, ' Default')
          : h(
              'button',
              {
                class: 'secondary make-default',
                disabled: busy,
                onclick: () => actions.makeDefault(card.id),
              },
              'Make default',
            ),
        h(
          'button',
          { class: 'secondary remove-card', disabled: busy, onclick: () => actions.remove(card.id) },
          'Remove',
        ),
      ),
    ),
    h('button', { id: 'add-card', disabled: busy, onclick: actions.addCard }, 'Add a card'),
  );
}

type Line = NonNullable<NextBillView>['lines'][number];

function linesTable(lines: Line[], currency: string): HTMLElement {
  return h(
    'table',
    { class: 'lines' },
    ...lines.map((line) =>
      h(
        'tr',
        { class: line.proration ? 'line proration' : 'line' },
        h('td', {}, line.description),
        h(
          'td',
          {},
          line.quantity !== null && line.unitAmountDecimal !== null ? unitPrice(line, currency) : '',
        ),
        h('td', {}, `${day(line.periodStart)} – ${day(line.periodEnd)}`),
        h('td', { class: 'num' }, money(line.amount, currency)),
      ),
    ),
  );
}

/** "250 × $0.01": the unit price may be below a cent, so it is shown from its decimal string. */
function unitPrice(line: Line, currency: string): string {
  const cents = Number(line.unitAmountDecimal);
  const whole = Number.isInteger(cents);
  return `${line.quantity} × ${whole ? money(cents, currency) : `${cents}¢`}`;
}

/** The next bill: when, what for (plan fee, usage so far, prorations), and the total. */
export function nextBillSection(bill: NextBillView): HTMLElement | null {
  if (!bill) return null;
  return h(
    'section',
    { id: 'next-bill' },
    h('h2', {}, 'Next bill'),
    h(
      'p',
      {},
      bill.date ? `On ${day(bill.date)}: ` : '',
      h('strong', { id: 'next-bill-total' }, money(bill.amountDue, bill.currency)),
    ),
    linesTable(bill.lines, bill.currency),
    bill.taxLines.length > 0 || bill.reverseCharge
      ? h('table', { class: 'totals' }, ...taxRows(bill, bill.currency, 'next-bill'))
      : null,
  );
}

/** One invoice in full, under the invoice list. */
export function invoiceDetailsPanel(details: InvoiceDetailsView, close: () => void): HTMLElement | null {
  if (!details) return null;
  const { currency } = details;
  return h(
    'section',
    { id: 'invoice-details', 'data-invoice': details.invoice.id },
    h('h2', {}, `Invoice ${details.invoice.number ?? details.invoice.id}`),
    linesTable(details.lines, currency),
    h(
      'table',
      { class: 'totals' },
      h('tr', {}, h('td', {}, 'Subtotal'), h('td', { class: 'num' }, money(details.subtotal, currency))),
      details.discount > 0
        ? h(
            'tr',
            {},
            h('td', {}, 'Discounts'),
            h('td', { class: 'num' }, `−${money(details.discount, currency)}`),
          )
        : null,
      ...taxRows(details, currency, 'invoice'),
      h(
        'tr',
        {},
        h('td', {}, 'Total'),
        h('td', { class: 'num', id: 'invoice-total' }, money(details.total, currency)),
      ),
      h('tr', {}, h('td', {}, 'Paid'), h('td', { class: 'num' }, money(details.amountPaid, currency))),
      details.creditedAfterPayment > 0
        ? h(
            'tr',
            {},
            h('td', {}, 'Refunded or credited'),
            h('td', { class: 'num' }, money(details.creditedAfterPayment, currency)),
          )
        : null,
    ),
    h('button', { class: 'secondary', onclick: close }, 'Close'),
  );
}
