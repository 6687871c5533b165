/**
 * The hosted customer portal (`session.url` = `/portal/{session}`), plain HTML forms only. What it
 * offers follows the session's configuration: update the default card (`payment_method_update`),
 * view invoices (`invoice_history`), switch plan among `subscription_update.products[].prices`,
 * cancel (`subscription_cancel.mode`: at period end or immediately) and undo a pending cancel;
 * a link returns to `return_url`. Every action answers a 303 back to the portal page. A switch that
 * meets one of `subscription_update.schedule_at_period_end.conditions` waits for the period end
 * (a subscription schedule, see `scheduleSwitchAtPeriodEnd`); the page then shows it as scheduled.
 * `business_profile` gives the headline and the privacy policy and terms of service links.
 */
import type Stripe from 'stripe';
import { invalidRequest, StripeApiError } from '../../core/errors';
import { type ApiRequest, HttpResponse, type Route } from '../../core/http';
import { attachPaymentMethod, createCardPaymentMethod } from '../../resources/payment-methods';
import { type Emulator, emit, idOf } from '../context';
import { customerIdOf } from '../invoices/invoices';
import { requireConfiguration, requirePortalSession } from './portal';
import { switchWaitsForPeriodEnd } from './portal-switch';
import { isMetered } from '../pricing';
import { scheduleSwitchAtPeriodEnd } from '../schedules/schedules';
import { subscriptionPeriod } from '../subscriptions/subscription-objects';
import { cancelNow } from '../subscriptions/subscription-lifecycle';
import { requireSubscription } from '../subscriptions/subscription-state';
import { updateSubscription, type UpdateArgs } from '../subscriptions/update-subscription';
import { date, esc, layout, money } from '../../pages/html';
import { COLLECTIONS } from '../../core/collections';

type Session = Stripe.BillingPortal.Session;
type Configuration = Stripe.BillingPortal.Configuration;

const LIVE = ['active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused'];

function context(
  emulator: Emulator,
  sessionId: string,
): { session: Session; config: Configuration; customer: Stripe.Customer } {
  const session = requirePortalSession(emulator, sessionId);
  const config = requireConfiguration(emulator, String(session.configuration));
  const customer = emulator.store.require(COLLECTIONS.customer, session.customer, 'customer');
  return { session, config, customer };
}

function switchOptions(emulator: Emulator, config: Configuration, current: Stripe.Price): string {
  const prices: Stripe.Price[] = [];
  for (const pr of config.features.subscription_update.products ?? []) {
    for (const priceId of pr.prices) {
      const price = emulator.store.get(COLLECTIONS.price, priceId);
      if (price && price.id !== current.id) prices.push(price);
    }
  }
  return prices
    .map((p) => {
      const name = emulator.store.get(COLLECTIONS.product, String(p.product))?.name ?? p.id;
      const r = p.recurring;
      return `<option value="${esc(p.id)}">${esc(name)} — ${money(p.unit_amount ?? 0, p.currency)} / ${esc(r?.interval ?? '')}</option>`;
    })
    .join('');
}

function productName(emulator: Emulator, price: Stripe.Price): string {
  return emulator.store.get(COLLECTIONS.product, String(price.product))?.name ?? price.id;
}

/** "Switches to Basic on 2026-02-01" for a subscription whose schedule has a phase still to come. */
function scheduledSwitch(emulator: Emulator, subscription: Stripe.Subscription): string {
  const scheduleId = idOf(subscription.schedule);
  const schedule = scheduleId ? emulator.store.get(COLLECTIONS.schedule, scheduleId) : undefined;
  const start = schedule?.current_phase?.end_date;
  const next = schedule?.phases.find((phase) => phase.start_date === start);
  if (!schedule || schedule.status !== 'active' || !next) return '';
  const names = next.items.map((item) => {
    const price = emulator.store.get(COLLECTIONS.price, idOf(item.price) ?? '');
    return price && !isMetered(price) ? productName(emulator, price) : '';
  });
  return `<p class="scheduled" id="scheduled-${esc(subscription.id)}">Switches to ${esc(names.filter(Boolean).join(', '))} on ${date(next.start_date)}</p>`;
}

function subscriptionSection(
  emulator: Emulator,
  sessionId: string,
  config: Configuration,
  subscription: Stripe.Subscription,
): string {
  // The plan is the licensed item; metered (usage) items beside it are not plans to switch.
  const item = subscription.items.data.find((it) => !isMetered(it.price)) ?? subscription.items.data[0];
  const name = item
    ? (emulator.store.get(COLLECTIONS.product, String(item.price.product))?.name ?? item.price.id)
    : '';
  const period = subscriptionPeriod(subscription);
  const f = config.features;
  // A subscription on a schedule (e.g. a switch already waiting for the period end) is not switched again here.
  const options =
    item && f.subscription_update.enabled && !subscription.schedule
      ? switchOptions(emulator, config, item.price)
      : '';
  const cancel = f.subscription_cancel.enabled
    ? subscription.cancel_at_period_end
      ? `<form method="post" action="/portal/${esc(sessionId)}/renew"><input type="hidden" name="subscription" value="${esc(subscription.id)}"><button id="renew-${esc(subscription.id)}">Don't cancel</button></form>`
      : `<form method="post" action="/portal/${esc(sessionId)}/cancel"><input type="hidden" name="subscription" value="${esc(subscription.id)}"><button id="cancel-${esc(subscription.id)}">Cancel plan${f.subscription_cancel.mode === 'at_period_end' ? ' (at period end)' : ''}</button></form>`
    : '';
  return `<section class="subscription" data-id="${esc(subscription.id)}">
<h3>${esc(name)} — ${item ? money(item.price.unit_amount ?? 0, item.price.currency) : ''} / ${esc(item?.price.recurring?.interval ?? '')}</h3>
<p>Status: <strong class="status">${esc(subscription.status)}</strong>${subscription.cancel_at_period_end ? ` · cancels on ${date(period.end)}` : ` · renews on ${date(period.end)}`}</p>
${scheduledSwitch(emulator, subscription)}
${options ? `<form method="post" action="/portal/${esc(sessionId)}/switch"><input type="hidden" name="subscription" value="${esc(subscription.id)}"><label>Switch plan <select name="price" id="price-${esc(subscription.id)}">${options}</select></label><button id="switch-${esc(subscription.id)}">Update plan</button></form>` : ''}
${cancel}
</section>`;
}

function page(emulator: Emulator, sessionId: string, error: string | null): string {
  const { session, config, customer } = context(emulator, sessionId);
  const f = config.features;
  const subscriptions = emulator.store
    .all(COLLECTIONS.subscription)
    .filter((s) => customerIdOf(s) === customer.id && LIVE.includes(s.status));
  const paymentMethodId = idOf(customer.invoice_settings?.default_payment_method ?? null);
  const paymentMethod = paymentMethodId
    ? emulator.store.get(COLLECTIONS.paymentMethod, paymentMethodId)
    : undefined;
  const invoices = emulator.store
    .all(COLLECTIONS.invoice)
    .filter((i) => customerIdOf(i) === customer.id && i.status !== 'draft');
  const profile = config.business_profile;
  const body = `<h1>Billing</h1>
${profile.headline ? `<p id="headline">${esc(profile.headline)}</p>` : ''}
<p class="muted">Test mode — emulator. ${esc(customer.email ?? customer.id)}</p>
${error ? `<p class="error" role="alert" id="error">${esc(error)}</p>` : ''}
<h2>Current plan</h2>
${subscriptions.length ? subscriptions.map((s) => subscriptionSection(emulator, sessionId, config, s)).join('') : '<p id="no-subscriptions">No active subscriptions.</p>'}
${
  f.payment_method_update.enabled
    ? `<h2>Payment method</h2><p id="current-card">${paymentMethod?.card ? `${esc(paymentMethod.card.brand)} •••• ${esc(paymentMethod.card.last4)}` : 'None'}</p>
<form method="post" action="/portal/${esc(sessionId)}/payment-method"><label>New card number <input name="card" id="card" placeholder="4242 4242 4242 4242" required></label><button id="update-card">Update card</button></form>`
    : ''
}
${
  f.invoice_history.enabled
    ? `<h2>Invoice history</h2><table id="invoices">${invoices
        .map(
          (i) =>
            `<tr><td>${date(i.created)}</td><td><a href="${esc(i.hosted_invoice_url ?? '')}">${esc(i.number ?? i.id)}</a></td><td>${esc(i.status)}</td><td class="num">${money(i.total, i.currency)}</td></tr>`,
        )
        .join('')}</table>`
    : ''
}
${session.return_url ? `<p><a id="return" href="${esc(session.return_url)}">Return to ${esc(new URL(session.return_url).host)}</a></p>` : ''}
${policyLinks(profile)}`;
  return layout('Billing portal', body);
}

/** The business's privacy policy and terms of service, linked at the foot of the portal as Stripe's does. */
function policyLinks(profile: Configuration['business_profile']): string {
  const links = [
    profile.privacy_policy_url
      ? `<a id="privacy-policy" href="${esc(profile.privacy_policy_url)}">Privacy policy</a>`
      : '',
    profile.terms_of_service_url
      ? `<a id="terms-of-service" href="${esc(profile.terms_of_service_url)}">Terms of service</a>`
      : '',
  ].filter(Boolean);
  return links.length ? `<p class="muted">${links.join(' · ')}</p>` : '';
}

function noChanges(): Omit<UpdateArgs, 'items' | 'prorationBehavior'> {
  return {
    prorationDate: null,
    billingCycleAnchor: null,
    cancelAtPeriodEnd: undefined,
    cancelAt: undefined,
    trialEnd: undefined,
    defaultPaymentMethod: undefined,
    metadata: undefined,
    description: undefined,
    pauseCollection: undefined,
    paymentBehavior: 'allow_incomplete',
  };
}

/** A subscription of the session's customer named in the form. */
function ownSubscription(
  emulator: Emulator,
  customer: Stripe.Customer,
  subscriptionId: string | undefined,
): Stripe.Subscription {
  if (!subscriptionId) throw invalidRequest('Missing subscription.', 'subscription');
  const subscription = requireSubscription(emulator, subscriptionId);
  if (customerIdOf(subscription) !== customer.id)
    throw invalidRequest('This subscription belongs to another customer.', 'subscription');
  return subscription;
}

function action(
  run: (req: ApiRequest, ctx: ReturnType<typeof context>) => void,
): (req: ApiRequest) => HttpResponse {
  return (req) => {
    const ctx = context(req.emulator, req.pathParams.id);
    try {
      run(req, ctx);
    } catch (e) {
      if (e instanceof StripeApiError)
        return HttpResponse.html(page(req.emulator, req.pathParams.id, e.body.message), 402);
      throw e;
    }
    return HttpResponse.redirect(`/portal/${req.pathParams.id}`);
  };
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/portal/:id',
    handler: (req) => HttpResponse.html(page(req.emulator, req.pathParams.id, null)),
  },
  {
    method: 'POST',
    path: '/portal/:id/cancel',
    handler: action(({ emulator, input }, { config, customer }) => {
      if (!config.features.subscription_cancel.enabled) throw invalidRequest('Cancelling is not enabled.');
      const subscription = ownSubscription(emulator, customer, input.str('subscription'));
      if (config.features.subscription_cancel.mode === 'immediately') {
        const prorate = config.features.subscription_cancel.proration_behavior !== 'none';
        cancelNow(emulator, subscription, { invoiceNow: false, prorate, reason: 'cancellation_requested' });
      } else {
        updateSubscription(emulator, subscription, {
          ...noChanges(),
          items: [],
          prorationBehavior: 'none',
          cancelAtPeriodEnd: true,
        });
      }
    }),
  },
  {
    method: 'POST',
    path: '/portal/:id/renew',
    handler: action(({ emulator, input }, { customer }) => {
      const subscription = ownSubscription(emulator, customer, input.str('subscription'));
      updateSubscription(emulator, subscription, {
        ...noChanges(),
        items: [],
        prorationBehavior: 'none',
        cancelAtPeriodEnd: false,
      });
    }),
  },
  {
    method: 'POST',
    path: '/portal/:id/switch',
    handler: action(({ emulator, input }, { config, customer }) => {
      const su = config.features.subscription_update;
      if (!su.enabled) throw invalidRequest('Switching plans is not enabled.');
      const subscription = ownSubscription(emulator, customer, input.str('subscription'));
      const priceId = input.reqStr('price');
      const allowed = (su.products ?? []).some((pr) => pr.prices.includes(priceId));
      if (!allowed) throw invalidRequest('This price is not offered in the portal.', 'price');
      const price = emulator.store.require(COLLECTIONS.price, priceId, 'price');
      if (subscription.schedule) {
        throw invalidRequest(
          'This plan already has a scheduled change; it can be switched once that applies.',
        );
      }
      const item = subscription.items.data.find((it) => !isMetered(it.price)) ?? subscription.items.data[0];
      const quantity = item.quantity ?? 1;
      const conditions = su.schedule_at_period_end.conditions;
      if (switchWaitsForPeriodEnd(conditions, { price: item.price, quantity }, { price, quantity })) {
        scheduleSwitchAtPeriodEnd(
          emulator,
          subscription,
          subscription.items.data.map((it) => ({
            price: it.id === item.id ? price : it.price,
            quantity: it.quantity,
          })),
        );
        return;
      }
      const behavior =
        su.proration_behavior === 'always_invoice'
          ? 'always_invoice'
          : su.proration_behavior === 'none'
            ? 'none'
            : 'create_prorations';
      updateSubscription(emulator, subscription, {
        ...noChanges(),
        items: [{ id: item.id, price, quantity: undefined, deleted: false, metadata: undefined }],
        prorationBehavior: behavior,
      });
    }),
  },
  {
    method: 'POST',
    path: '/portal/:id/payment-method',
    handler: action(({ emulator, input }, { config, customer }) => {
      if (!config.features.payment_method_update.enabled)
        throw invalidRequest('Updating the payment method is not enabled.');
      const paymentMethod = createCardPaymentMethod(
        emulator,
        (input.str('card') ?? '').replace(/[\s-]/g, ''),
      );
      attachPaymentMethod(emulator, paymentMethod.id, customer.id);
      const { obj, previous } = emulator.store.update(COLLECTIONS.customer, customer.id, (c) => {
        c.invoice_settings.default_payment_method = paymentMethod.id;
      });
      emit(emulator, 'customer.updated', obj, previous);
      // The portal also makes the new card the default of the customer's subscriptions.
      for (const subscription of emulator.store.all(COLLECTIONS.subscription)) {
        if (
          customerIdOf(subscription) !== customer.id ||
          !LIVE.includes(subscription.status) ||
          !subscription.default_payment_method
        )
          continue;
        updateSubscription(emulator, subscription, {
          ...noChanges(),
          items: [],
          prorationBehavior: 'none',
          defaultPaymentMethod: paymentMethod.id,
        });
      }
    }),
  },
];
