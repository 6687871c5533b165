/**
 * The add-ons section of the billing page (ADR 0024): what the subscription carries, with its price and, once
 * removed, until when it stays; and what its plan may add. Buying charges the rest of the period now; removing
 * ends it with the period (nothing is refunded), as docs/billing-rules.md rows 49–51 say.
 */
import type { AccountView, AddonOfferView } from './api.js';
import { day, h, money } from './dom.js';

export interface AddonActions {
  buyAddon(key: string, quantity: number): void;
  removeAddon(key: string): void;
}

export function addonsSection(
  account: AccountView,
  offers: AddonOfferView[],
  notice: string | null,
  busy: boolean,
  actions: AddonActions,
): HTMLElement | null {
  const subscription = account.subscription;
  if (!subscription) return null;
  const carried = account.addons;
  const available = offers.filter(
    (offer) =>
      offer.plans.includes(subscription.plan.key) && !carried.some((addon) => addon.key === offer.key),
  );
  if (carried.length === 0 && available.length === 0) return null;
  return h(
    'section',
    { id: 'addons' },
    h('h2', {}, 'Add-ons'),
    notice ? h('p', { id: 'addon-notice' }, notice) : null,
    ...carried.map((addon) => {
      const offer = offers.find((candidate) => candidate.key === addon.key);
      const more = !addon.endsAt && offer && addon.quantity < offer.maxQuantity;
      return h(
        'div',
        { class: 'addon', id: `addon-${addon.key}` },
        h('strong', {}, addon.quantity > 1 ? `${addon.name} × ${addon.quantity}` : addon.name),
        ` ${money(addon.unitAmount * addon.quantity, addon.currency)} a ${addon.interval === 'YEAR' ? 'year' : 'month'} `,
        addon.endsAt
          ? h('span', { class: 'muted', id: `addon-ends-${addon.key}` }, `ends ${day(addon.endsAt)}`)
          : h(
              'button',
              {
                id: `remove-addon-${addon.key}`,
                class: 'secondary',
                disabled: busy,
                onclick: () => actions.removeAddon(addon.key),
              },
              'Remove at period end',
            ),
        addon.quantityAtPeriodEnd
          ? h(
              'span',
              { class: 'muted', id: `addon-fewer-${addon.key}` },
              `${addon.quantityAtPeriodEnd} from ${day(subscription.currentPeriodEnd)}`,
            )
          : null,
        !addon.endsAt && addon.quantity > 1 && (addon.quantityAtPeriodEnd ?? addon.quantity) > 1
          ? h(
              'button',
              {
                id: `fewer-addon-${addon.key}`,
                class: 'secondary',
                disabled: busy,
                onclick: () => actions.buyAddon(addon.key, (addon.quantityAtPeriodEnd ?? addon.quantity) - 1),
              },
              'One fewer from the next period',
            )
          : null,
        more
          ? h(
              'button',
              {
                id: `more-addon-${addon.key}`,
                class: 'secondary',
                disabled: busy,
                onclick: () => actions.buyAddon(addon.key, addon.quantity + 1),
              },
              'Add one more',
            )
          : null,
      );
    }),
    ...available.map((offer) => {
      const price = offer.prices.find((candidate) => candidate.interval === subscription.interval);
      return h(
        'div',
        { class: 'addon-offer', id: `offer-${offer.key}` },
        h('strong', {}, offer.name),
        ` ${offer.description} `,
        price
          ? `${money(price.amount, price.currency)} a ${price.interval === 'YEAR' ? 'year' : 'month'}${offer.maxQuantity > 1 ? ' each' : ''} `
          : '',
        h(
          'button',
          {
            id: `buy-addon-${offer.key}`,
            disabled: busy || !price,
            onclick: () => actions.buyAddon(offer.key, 1),
          },
          'Buy',
        ),
      );
    }),
  );
}
