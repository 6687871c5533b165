/**
 * The billing page: plan and status, usage bars, entitlements, plan picker with the preview amount, card,
 * invoices. It renders from one state object; the live updates replace parts of that state and render again.
 */
import {
  type AccountView,
  type AddonOfferView,
  type BalanceView,
  type CreditsView,
  ApiError,
  type BillingApi,
  type DiscountView,
  type Interval,
  type InvoiceDetailsView,
  type NextBillView,
  type PlanView,
  type PreviewView,
  type TaxIdView,
  type UsageView,
} from './api.js';
import { type AddonActions, addonsSection } from './addons-view.js';
import { authenticationNotice } from './authentication-notice.js';
import { type CreditActions, creditsSection } from './credits-view.js';
import { cardsSection, invoiceDetailsPanel, nextBillSection } from './bills-view.js';
import { count, day, daysUntil, h, label, money } from './dom.js';
import { liveRenderer } from './live-render.js';
import { type SeatsActions, seatPriceNote, seatsSection } from './seats-view.js';
import { taxRows, type VatActions, vatSection } from './tax-view.js';

interface State {
  account: AccountView;
  plans: PlanView[];
  /** The interval the plan picker shows prices for. */
  interval: Interval;
  /** A plan change the user is looking at, with what it would charge. */
  change: { plan: PlanView; interval: Interval; preview: PreviewView | null } | null;
  /** The next bill, read from Stripe when the page opens and after a change made here. */
  nextBill: NextBillView;
  /** The invoice opened in full, if any. */
  invoice: InvoiceDetailsView;
  /** A mutation or redirect is running: buttons are disabled so nothing is sent twice. */
  busy: boolean;
  error: string | null;
  /** What the promotion code box holds (sent with Checkout, or applied to the live subscription). */
  promotionCode: string;
  /** What the last applied code gives, e.g. "LAUNCH20: 20 % off until Mar 6, 2027". */
  promotionNotice: string | null;
  /** The add-ons on sale (the catalog's), and what the last add-on bought or removed did. */
  addonOffers: AddonOfferView[];
  /** An add-on just bought: its charge is the first invoice not among those the account had before. */
  addonPurchase: { name: string; invoicesBefore: string[] } | null;
  addonNotice: string | null;
  /** What the seats box holds while the user types (null: it shows the seats paid for). */
  seatsQuantity: string | null;
  /** The customer's VAT IDs, read from Stripe when the page opens and after a change; null without a customer. */
  taxIds: TaxIdView[] | null;
  /** What the VAT ID field holds. */
  vatId: string;
  /** The AI credits (balance, latest entries, packs); null until read. */
  credits: CreditsView | null;
}

export interface BillingPageOptions {
  /** The page's own URL directory (…/billing/): where Checkout and the portal send the user back to. */
  base: string;
  /** A message above the page, e.g. from the Checkout success or cancel page. */
  banner?: HTMLElement;
}

/**
 * Shows the billing page in `root` and keeps it live: subscribes to `accountUpdated` and `usageUpdated` first,
 * then loads, so no change between the two is missed.
 */
export async function showBillingPage(root: HTMLElement, api: BillingApi, options: BillingPageOptions) {
  let state: State | null = null;
  /** The message from Checkout is about what it bought: it goes once the plan or its status changes. */
  let banner = options.banner ?? null;
  let bannerState: string | null = null;
  const billingState = (account: AccountView) => `${account.plan.key}:${account.subscription?.status ?? ''}`;
  const render = liveRenderer(root, () =>
    state ? [...(banner ? [banner] : []), ...page(state, actions)] : null,
  );

  api.onAccountUpdated((account) => {
    if (!state) return;
    if (bannerState !== null && billingState(account) !== bannerState) banner = null;
    state.account = account;
    render();
    // What the next bill holds may have changed with it (a plan change, a renewal): read it again.
    void api.nextBill().then(
      (bill) => {
        if (!state) return;
        state.nextBill = bill;
        render();
      },
      () => undefined,
    );
  });
  api.onUsageUpdated((usage) => {
    if (!state) return;
    // Replaced where it is, so the bars keep their order.
    const known = state.account.usage.some((existing) => existing.metric === usage.metric);
    state.account.usage = known
      ? state.account.usage.map((existing) => (existing.metric === usage.metric ? usage : existing))
      : [...state.account.usage, usage];
    render();
  });
  api.onBalanceUpdated((balance: BalanceView) => {
    if (!state?.credits) return;
    state.credits = { ...state.credits, viewer: { ...state.credits.viewer, balance } };
    render();
    // The entry that moved it: read the latest ones again.
    void api.credits().then(
      (credits) => {
        if (!state) return;
        state.credits = credits;
        render();
      },
      () => undefined,
    );
  });
  api.onReconnected(() => {
    void api.load().then(({ account }) => {
      if (!state) return;
      state.account = account;
      render();
    });
  });

  /** Runs a user action with the buttons disabled; an error is shown above the page, never swallowed. */
  const run = async (work: () => Promise<void>) => {
    if (!state) return;
    state.busy = true;
    state.error = null;
    render();
    try {
      await work();
    } catch (error) {
      state.error = error instanceof ApiError ? error.message : 'Something went wrong. Please try again.';
    }
    state.busy = false;
    render();
  };

  const actions: Actions = {
    setInterval: (interval) => {
      if (!state) return;
      state.interval = interval;
      state.change = null;
      render();
    },
    checkout: (plan, withTrial) =>
      run(async () => {
        const code = state?.promotionCode.trim() || null;
        const url = await api.checkoutUrl(
          plan.key,
          state?.interval ?? 'MONTH',
          withTrial,
          options.base,
          code,
        );
        window.location.assign(url);
        // Leaving the page: keep the buttons disabled until the browser has gone.
        await new Promise(() => undefined);
      }),
    setAutoTopUp: (settings) =>
      run(async () => {
        await api.setAutoTopUp(settings);
        if (state) state.credits = await api.credits();
      }),
    setSpendLimit: (monthlyCents) =>
      run(async () => {
        await api.setSpendLimit(monthlyCents);
        if (state) state.credits = await api.credits();
      }),
    buyPack: (packKey) =>
      run(async () => {
        window.location.assign(await api.creditCheckoutUrl(packKey, options.base));
        // Leaving the page: keep the buttons disabled until the browser has gone.
        await new Promise(() => undefined);
      }),
    typePromotionCode: (code) => {
      // Kept without rendering again, so the box keeps its focus while the user types.
      if (state) state.promotionCode = code;
    },
    applyPromotionCode: () =>
      run(async () => {
        if (!state) return;
        const discount = await api.applyPromotionCode(state.promotionCode.trim());
        state.promotionNotice = discount ? discountText(discount) : null;
        state.promotionCode = '';
        state.nextBill = await api.nextBill().catch(() => state?.nextBill ?? null);
      }),
    typeSeats: (quantity) => {
      // Kept without rendering again, so the box keeps its focus while the user types.
      if (state) state.seatsQuantity = quantity;
    },
    setSeats: () =>
      run(async () => {
        if (!state) return;
        const quantity = Number(state.seatsQuantity ?? '');
        if (!Number.isInteger(quantity) || quantity < 1)
          throw new ApiError('Enter a number of seats', undefined);
        await api.setSeats(quantity);
        state.seatsQuantity = null;
        state.account = (await api.load()).account;
        state.nextBill = await api.nextBill().catch(() => state?.nextBill ?? null);
      }),
    portal: () =>
      run(async () => {
        window.location.assign(await api.portalUrl(options.base));
        await new Promise(() => undefined);
      }),
    preview: (plan) =>
      run(async () => {
        if (!state) return;
        const interval = state.interval;
        state.change = { plan, interval, preview: null };
        state.change.preview = await api.previewChange(plan.key, interval);
      }),
    confirmChange: () =>
      run(async () => {
        if (!state?.change) return;
        await api.changePlan(state.change.plan.key, state.change.interval);
        state.change = null;
        // The mutation answers the new state, and accountUpdated brings it too; reading it is simplest here.
        state.account = (await api.load()).account;
      }),
    dismissChange: () => {
      if (!state) return;
      state.change = null;
      render();
    },
    cancel: () =>
      run(async () => {
        await api.cancelAtPeriodEnd();
        if (state) state.account = (await api.load()).account;
      }),
    resume: () =>
      run(async () => {
        await api.resume();
        if (state) state.account = (await api.load()).account;
      }),
    addCard: () =>
      run(async () => {
        window.location.assign(await api.addCardUrl(options.base));
        await new Promise(() => undefined);
      }),
    makeDefault: (id) => run(() => afterCardChange(api.makeDefaultCard(id))),
    remove: (id) => run(() => afterCardChange(api.removeCard(id))),
    showInvoice: (id) =>
      run(async () => {
        if (state) state.invoice = await api.invoiceDetails(id);
      }),
    closeInvoice: () => {
      if (!state) return;
      state.invoice = null;
      render();
    },
    buyAddon: (key, quantity) =>
      run(async () => {
        if (!state) return;
        const invoicesBefore = state.account.invoices.nodes.map((invoice) => invoice.id);
        await api.addAddon(key, quantity);
        state.account = (await api.load()).account;
        const addon = state.account.addons.find((carried) => carried.key === key);
        const name = addon?.name ?? key;
        // Fewer units wait for the period end (rule 50): nothing is charged, so there is no invoice to wait for.
        const fewer = addon?.quantityAtPeriodEnd ?? null;
        state.addonPurchase = fewer === null ? { name, invoicesBefore } : null;
        state.addonNotice =
          fewer === null
            ? null
            : `${name}: ${fewer} from ${day(state.account.subscription?.currentPeriodEnd ?? new Date().toISOString())}; the ones paid for stay until then, nothing is refunded`;
        state.nextBill = await api.nextBill().catch(() => state?.nextBill ?? null);
      }),
    removeAddon: (key) =>
      run(async () => {
        await api.removeAddon(key);
        if (!state) return;
        state.account = (await api.load()).account;
        const removed = state.account.addons.find((addon) => addon.key === key);
        state.addonPurchase = null;
        state.addonNotice = removed?.endsAt
          ? `${removed.name} stays until ${day(removed.endsAt)}; it is not renewed and nothing is refunded`
          : null;
        state.nextBill = await api.nextBill().catch(() => state?.nextBill ?? null);
      }),
    typeVatId: (value) => {
      // Kept without rendering again, so the field keeps its focus while the user types.
      if (state) state.vatId = value;
    },
    addVatId: () =>
      run(async () => {
        if (!state?.vatId.trim()) return;
        await api.addTaxId(state.vatId.trim());
        state.vatId = '';
        await afterVatChange();
      }),
    removeVatId: (id) =>
      run(async () => {
        await api.removeTaxId(id);
        await afterVatChange();
      }),
  };

  /** A VAT ID may change the tax of the next bill (reverse charge): both are read again. */
  const afterVatChange = async () => {
    if (!state) return;
    state.taxIds = await api.taxIds();
    state.nextBill = await api.nextBill().catch(() => state?.nextBill ?? null);
  };

  /** A card change answers once Stripe has it; the account (and which card is charged next) is read again. */
  const afterCardChange = async (change: Promise<void>) => {
    await change;
    if (state) state.account = (await api.load()).account;
  };

  const live = api.connected();
  // The next bill is read from Stripe: if it cannot be read now, the rest of the page still shows.
  const [{ account, plans, addons }, nextBill, taxIds, credits] = await Promise.all([
    api.load(),
    api.nextBill().catch(() => null),
    api.taxIds().catch(() => null),
    api.credits().catch(() => null),
  ]);
  state = {
    account,
    plans,
    interval: account.subscription?.interval ?? 'MONTH',
    change: null,
    nextBill,
    invoice: null,
    busy: false,
    error: null,
    promotionCode: '',
    promotionNotice: null,
    addonOffers: addons,
    addonPurchase: null,
    addonNotice: null,
    seatsQuantity: null,
    taxIds,
    vatId: '',
    credits,
  };
  bannerState = billingState(account);
  render();
  await live;
  // For tests and monitoring: the page now receives live updates.
  document.body.dataset.live = 'true';
}

interface Actions extends AddonActions, SeatsActions, VatActions, CreditActions {
  setInterval(interval: Interval): void;
  checkout(plan: PlanView, withTrial: boolean): void;
  typePromotionCode(code: string): void;
  applyPromotionCode(): void;
  portal(): void;
  preview(plan: PlanView): void;
  confirmChange(): void;
  dismissChange(): void;
  cancel(): void;
  resume(): void;
  addCard(): void;
  makeDefault(id: string): void;
  remove(id: string): void;
  showInvoice(id: string): void;
  closeInvoice(): void;
}

function page(state: State, actions: Actions): HTMLElement[] {
  return [
    h('h1', {}, 'Billing'),
    state.error ? h('p', { class: 'error', role: 'alert', id: 'error' }, state.error) : null,
    authenticationNotice(state.account),
    ...notices(state.account),
    planSection(state, actions),
    seatsSection(state.account, state.seatsQuantity, state.busy, actions),
    creditsSection(state.credits, state.busy, actions),
    usageSection(
      state.account.usage,
      state.plans.find((plan) => plan.key === state.account.plan.key),
    ),
    entitlementsSection(
      state.account.entitlements.filter(
        (entitlement) => !state.account.usage.some((usage) => usage.metric === entitlement.feature),
      ),
    ),
    addonsSection(state.account, state.addonOffers, addonNoticeOf(state), state.busy, actions),
    pickerSection(state, actions),
    nextBillSection(state.nextBill),
    cardsSection(state.account, state.busy, actions),
    vatSection(state.account.customer ? state.taxIds : null, state.vatId, state.busy, actions),
    invoicesSection(state.account, actions),
    invoiceDetailsPanel(state.invoice, actions.closeInvoice),
  ].filter((element): element is HTMLElement => element !== null);
}

/**
 * What the last add-on action did. A purchase's charge is the invoice Stripe made for it (docs/billing-rules.md row
 * 49), which reaches the page live with the account once its webhook is in.
 */
function addonNoticeOf(state: State): string | null {
  const purchase = state.addonPurchase;
  if (!purchase) return state.addonNotice;
  const charged = state.account.invoices.nodes.find(
    (invoice) => !purchase.invoicesBefore.includes(invoice.id),
  );
  return charged
    ? `${purchase.name}: ${money(charged.amountPaid, charged.currency)} charged now for the rest of this period`
    : `${purchase.name} added: charging the rest of this period…`;
}

function notices(account: AccountView): HTMLElement[] {
  const subscription = account.subscription;
  if (!subscription) return [];
  const result: HTMLElement[] = [];
  if (subscription.status === 'PAST_DUE' || subscription.status === 'UNPAID') {
    // The service keeps the paid plan for a grace period; once it is over the effective plan is free.
    const inGrace = account.plan.key === subscription.plan.key;
    result.push(
      h(
        'p',
        { class: 'notice warning', id: 'past-due' },
        inGrace
          ? `Your last payment failed. You keep ${subscription.plan.name} for a short grace period while we ` +
              'retry; update your card under "Manage billing" to keep it.'
          : `Your payment failed and the grace period is over: you are on ${account.plan.name} until a payment ` +
              `for ${subscription.plan.name} succeeds. Update your card under "Manage billing".`,
      ),
    );
  }
  if (subscription.status === 'TRIALING' && subscription.trialEnd) {
    const left = daysUntil(subscription.trialEnd);
    result.push(
      h(
        'p',
        { class: 'notice', id: 'trial' },
        `Trial: ${left} ${left === 1 ? 'day' : 'days'} left (ends ${day(subscription.trialEnd)}).`,
      ),
    );
  }
  if (subscription.cancelAtPeriodEnd) {
    result.push(
      h(
        'p',
        { class: 'notice', id: 'cancels' },
        `Your plan ends on ${day(subscription.currentPeriodEnd)}; you keep ${subscription.plan.name} until then.`,
      ),
    );
  }
  if (subscription.scheduledChange) {
    const change = subscription.scheduledChange;
    result.push(
      h(
        'p',
        { class: 'notice', id: 'scheduled-change' },
        `Changes to ${change.plan.name} (${change.interval.toLowerCase()}ly) on ${day(change.effectiveAt)}.`,
      ),
    );
  }
  return result;
}

function planSection(state: State, actions: Actions): HTMLElement {
  const { account, busy } = state;
  const subscription = account.subscription;
  return h(
    'section',
    { id: 'plan' },
    h('h2', {}, 'Your plan'),
    h(
      'p',
      { class: 'plan-line' },
      h('strong', { id: 'plan-name' }, account.plan.name),
      ' ',
      subscription
        ? h(
            'span',
            { class: `status status-${subscription.status.toLowerCase()}`, id: 'plan-status' },
            subscription.status.replace('_', ' ').toLowerCase(),
          )
        : null,
    ),
    subscription && !subscription.cancelAtPeriodEnd && subscription.currentPeriodEnd
      ? h(
          'p',
          { class: 'muted', id: 'renews' },
          `Billed ${subscription.interval.toLowerCase()}ly; renews on ${day(subscription.currentPeriodEnd)}.`,
        )
      : null,
    h(
      'div',
      { class: 'buttons' },
      account.customer
        ? h('button', { id: 'portal', disabled: busy, onclick: actions.portal }, 'Manage billing')
        : null,
      subscription && !subscription.cancelAtPeriodEnd
        ? h(
            'button',
            { id: 'cancel', class: 'secondary', disabled: busy, onclick: actions.cancel },
            'Cancel at period end',
          )
        : null,
      subscription?.cancelAtPeriodEnd
        ? h('button', { id: 'resume', disabled: busy, onclick: actions.resume }, 'Keep my plan')
        : null,
    ),
  );
}

function usageSection(usage: UsageView[], plan: PlanView | undefined): HTMLElement {
  return h(
    'section',
    { id: 'usage' },
    h('h2', {}, 'Usage this period'),
    ...usage.map((metric) => {
      const share = metric.included ? Math.min(1, metric.used / metric.included) : 0;
      const over = metric.included !== null && metric.used >= metric.included;
      // At a hard limit (the plan refuses more) the user must be told, not just shown a full bar.
      const blocked =
        over && plan?.limits.some((limit) => limit.metric === metric.metric && limit.overLimit === 'BLOCK');
      // Seats of a plan priced per seat are bought (at once), not a reason to wait or to change plan.
      const seatsBought = metric.metric === 'seats' && Boolean(plan?.seats);
      const bar = h('div', { class: `bar${blocked ? ' blocked' : over ? ' over' : ''}` }, h('span', {}));
      (bar.firstChild as HTMLElement).style.width = `${Math.round(share * 100)}%`;
      const name = label(metric.metric);
      const lower = /^[A-Z]{2}/.test(name) ? name : name.charAt(0).toLowerCase() + name.slice(1);
      let note: HTMLElement | null = null;
      if (blocked && plan)
        note = h(
          'p',
          { class: 'usage-note limit', 'data-note': 'limit', role: 'status' },
          seatsBought
            ? `Limit reached: all ${count(metric.included ?? 0)} seats paid for are taken. Add seats above to go on.`
            : `Limit reached: ${plan.name} includes ${count(metric.included ?? 0)} ${lower}, and more are refused ` +
                `until the period ends on ${day(metric.periodEnd)}. Choose a plan below to go on.`,
        );
      else if (metric.overage > 0)
        note = h(
          'p',
          { class: 'usage-note overage', 'data-note': 'overage' },
          `${count(metric.overage)} ${lower} over the ${count(metric.included ?? 0)} included: ` +
            'billed as overage on your next invoice.',
        );
      return h(
        'div',
        { class: 'usage', 'data-metric': metric.metric },
        h(
          'div',
          { class: 'usage-label' },
          h('span', {}, name),
          h(
            'span',
            { class: 'usage-figures' },
            metric.included === null
              ? `${count(metric.used)} (unlimited)`
              : `${count(metric.used)} of ${count(metric.included)}${metric.overage > 0 ? ` · ${count(metric.overage)} over` : ''}`,
          ),
        ),
        bar,
        note,
      );
    }),
  );
}

function entitlementsSection(entitlements: AccountView['entitlements']): HTMLElement {
  return h(
    'section',
    { id: 'entitlements' },
    h('h2', {}, 'Included features'),
    h(
      'ul',
      {},
      ...entitlements.map((entitlement) =>
        h(
          'li',
          {
            'data-feature': entitlement.feature,
            'data-enabled': String(entitlement.enabled),
            class: entitlement.enabled ? 'on' : 'off',
          },
          `${entitlement.enabled ? '✓' : '✗'} ${label(entitlement.feature)}`,
          entitlement.limit !== null
            ? h('span', { class: 'muted' }, ` (up to ${count(entitlement.limit)})`)
            : null,
        ),
      ),
    ),
  );
}

function pickerSection(state: State, actions: Actions): HTMLElement {
  const { account, interval, busy } = state;
  const subscription = account.subscription;
  const toggle = (value: Interval, text: string) =>
    h(
      'button',
      {
        class: value === interval ? 'toggle selected' : 'toggle',
        id: `interval-${value.toLowerCase()}`,
        'aria-pressed': String(value === interval),
        onclick: () => actions.setInterval(value),
      },
      text,
    );
  const cards = state.plans.map((plan) => {
    const price = plan.prices.find((candidate) => candidate.interval === interval);
    const current = subscription?.plan.key === plan.key && subscription.interval === interval;
    let buttons: Array<HTMLElement | null> = [];
    if (plan.salesLed) buttons = [h('a', { href: 'mailto:sales@coditect.ai' }, 'Contact sales')];
    else if (current) buttons = [h('span', { class: 'current-label' }, 'Current plan')];
    else if (price && subscription)
      buttons = [
        h(
          'button',
          { id: `change-${plan.key}`, disabled: busy, onclick: () => actions.preview(plan) },
          'Switch',
        ),
      ];
    else if (price)
      buttons = [
        h(
          'button',
          { id: `checkout-${plan.key}`, disabled: busy, onclick: () => actions.checkout(plan, false) },
          'Subscribe',
        ),
        plan.trialDays > 0
          ? h(
              'button',
              {
                id: `trial-${plan.key}`,
                class: 'secondary',
                disabled: busy,
                onclick: () => actions.checkout(plan, true),
              },
              `Start ${plan.trialDays}-day trial`,
            )
          : null,
      ];
    return h(
      'div',
      { class: current ? 'plan-card current' : 'plan-card', 'data-plan': plan.key },
      h('h3', {}, plan.name),
      h(
        'p',
        { class: 'price' },
        price
          ? `${money(price.amount, price.currency)} / ${interval.toLowerCase()}`
          : plan.salesLed
            ? 'Custom'
            : money(0, account.currency),
      ),
      seatPriceNote(plan, interval),
      h('p', { class: 'muted' }, plan.description),
      h('div', { class: 'buttons' }, ...buttons),
    );
  });
  return h(
    'section',
    { id: 'plans' },
    h('h2', {}, subscription ? 'Change plan' : 'Choose a plan'),
    h('div', { class: 'toggles' }, toggle('MONTH', 'Monthly'), toggle('YEAR', 'Yearly')),
    h('div', { class: 'plan-cards' }, ...cards),
    promotionCodeBox(state, actions),
    state.change ? previewPanel(state.change, busy, actions) : null,
  );
}

/**
 * The promotion code box: before subscribing, its code goes with Checkout (the service refuses one that does not
 * apply, naming why, before the user leaves); with a subscription, "Apply" puts it on the next invoices.
 */
function promotionCodeBox(state: State, actions: Actions): HTMLElement {
  const subscribed = Boolean(state.account.subscription);
  const input = h('input', {
    id: 'promotion-code',
    name: 'promotionCode',
    autocomplete: 'off',
    maxlength: '40',
    placeholder: 'e.g. LAUNCH20',
    value: state.promotionCode,
    oninput: (event) => actions.typePromotionCode((event.target as HTMLInputElement).value),
  });
  return h(
    'div',
    { class: 'promotion-code' },
    h('label', { for: 'promotion-code' }, 'Promotion code '),
    input,
    subscribed
      ? h(
          'button',
          {
            id: 'apply-promotion-code',
            class: 'secondary',
            disabled: state.busy,
            onclick: () => actions.applyPromotionCode(),
          },
          'Apply',
        )
      : h('span', { class: 'muted' }, ' applied when you subscribe'),
    state.promotionNotice ? h('p', { id: 'promotion-notice' }, state.promotionNotice) : null,
  );
}

function discountText(discount: NonNullable<DiscountView>): string {
  const off =
    discount.percentOff !== null && discount.percentOff !== undefined
      ? `${discount.percentOff} % off`
      : `${money(discount.amountOff ?? 0, discount.currency ?? 'usd')} off`;
  const how =
    discount.duration === 'repeating' && discount.endsAt
      ? ` until ${day(discount.endsAt)}`
      : discount.duration === 'once'
        ? ' on the next invoice'
        : '';
  return `${discount.code ?? 'Offer'}: ${off}${how}, from the next invoice`;
}

function previewPanel(change: NonNullable<State['change']>, busy: boolean, actions: Actions): HTMLElement {
  const { preview } = change;
  if (!preview) return h('div', { id: 'preview', class: 'preview' }, 'Working out the price…');
  const now = preview.chargedNow;
  return h(
    'div',
    { id: 'preview', class: 'preview' },
    h('h3', {}, `Switch to ${change.plan.name} (${change.interval.toLowerCase()}ly)`),
    h(
      'table',
      {},
      ...preview.lines.map((line) =>
        h(
          'tr',
          {},
          h('td', {}, line.description),
          h('td', { class: 'num' }, money(line.amount, preview.currency)),
        ),
      ),
      ...taxRows(preview, preview.currency, 'preview'),
    ),
    h(
      'p',
      { class: 'due' },
      now ? 'Due now: ' : `Due on ${day(preview.nextPaymentAt)}: `,
      h('strong', { id: 'preview-amount' }, money(preview.amountDue, preview.currency)),
    ),
    h(
      'div',
      { class: 'buttons' },
      h('button', { id: 'confirm-change', disabled: busy, onclick: actions.confirmChange }, 'Confirm change'),
      h('button', { class: 'secondary', disabled: busy, onclick: actions.dismissChange }, 'Not now'),
    ),
  );
}

function invoicesSection(account: AccountView, actions: Actions): HTMLElement | null {
  const invoices = account.invoices.nodes;
  if (invoices.length === 0) return null;
  return h(
    'section',
    { id: 'invoices' },
    h('h2', {}, 'Invoices'),
    h(
      'table',
      {},
      ...invoices.map((invoice) =>
        h(
          'tr',
          { 'data-invoice': invoice.id, 'data-status': invoice.status },
          h('td', {}, day(invoice.createdAt)),
          h('td', {}, invoice.number ?? ''),
          h('td', {}, h('span', { class: `status status-${invoice.status}` }, invoice.status)),
          h(
            'td',
            { class: 'num' },
            money(invoice.status === 'paid' ? invoice.amountPaid : invoice.amountDue, invoice.currency),
          ),
          h(
            'td',
            { class: 'links' },
            invoice.hostedInvoiceUrl
              ? h('a', { href: invoice.hostedInvoiceUrl, target: '_blank', rel: 'noopener' }, 'View')
              : null,
            ' ',
            invoice.invoicePdf
              ? h('a', { href: invoice.invoicePdf, target: '_blank', rel: 'noopener' }, 'PDF')
              : null,
            ' ',
            h(
              'button',
              { class: 'link show-invoice', onclick: () => actions.showInvoice(invoice.id) },
              'Details',
            ),
          ),
        ),
      ),
    ),
  );
}
