/**
 * Tax on the billing page (Stripe Tax, when the service has STRIPE_TAX=on): a row per tax rate under a preview,
 * the next bill and an invoice, the reverse charge note, and the customer's VAT IDs (add, remove).
 */
import type { TaxIdView, TaxLineView } from './api.js';
import { h, label, money } from './dom.js';

interface Taxed {
  taxLines: TaxLineView[];
  reverseCharge: boolean;
  reverseChargeNote?: string | null;
}

/** "VAT (IE, 23 %)  $4.37" per rate, and the reverse charge note; nothing when no tax applies. */
export function taxRows(taxed: Taxed, currency: string, idPrefix: string): HTMLElement[] {
  const rows = taxed.taxLines
    .filter((line) => line.amount !== 0 || !taxed.reverseCharge)
    .map((line) =>
      h(
        'tr',
        { class: 'tax', 'data-tax': idPrefix },
        h(
          'td',
          {},
          `${line.name} (${[line.jurisdiction, `${line.ratePercent} %`].filter(Boolean).join(', ')})`,
        ),
        h('td', { class: 'num' }, money(line.amount, currency)),
      ),
    );
  const note = taxed.reverseCharge
    ? h(
        'tr',
        { class: 'reverse-charge' },
        h('td', { id: `${idPrefix}-reverse-charge` }, taxed.reverseChargeNote ?? 'Reverse charge'),
        h('td', { class: 'num' }, money(0, currency)),
      )
    : null;
  return [...rows, ...(note ? [note] : [])];
}

export interface VatActions {
  typeVatId(value: string): void;
  addVatId(): void;
  removeVatId(id: string): void;
}

/** The customer's VAT IDs with Stripe's verification, a field to add one, a button to remove each. */
export function vatSection(
  taxIds: TaxIdView[] | null,
  typed: string,
  busy: boolean,
  actions: VatActions,
): HTMLElement | null {
  if (taxIds === null) return null;
  return h(
    'section',
    { id: 'vat' },
    h('h2', {}, 'VAT ID'),
    ...taxIds.map((taxId) =>
      h(
        'div',
        { class: 'vat-row', 'data-vat': taxId.value },
        h('span', { class: 'vat-value' }, taxId.value),
        h('span', { class: 'muted vat-verification' }, ` ${label(taxId.verification ?? 'not verified')} `),
        h(
          'button',
          { class: 'secondary remove-vat-id', disabled: busy, onclick: () => actions.removeVatId(taxId.id) },
          'Remove',
        ),
      ),
    ),
    h(
      'div',
      { class: 'vat-add' },
      h('label', { for: 'vat-id' }, 'VAT number '),
      h('input', {
        id: 'vat-id',
        name: 'vatId',
        autocomplete: 'off',
        maxlength: '64',
        placeholder: 'e.g. DE123456789',
        value: typed,
        oninput: (event) => actions.typeVatId((event.target as HTMLInputElement).value),
      }),
      h('button', { id: 'add-vat-id', class: 'secondary', disabled: busy, onclick: actions.addVatId }, 'Add'),
    ),
  );
}
