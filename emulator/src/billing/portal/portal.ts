/**
 * Customer portal configurations and sessions
 * (https://docs.stripe.com/customer-management/integrate-customer-portal). A default configuration
 * exists from the start (and after reset); a session's `url` opens the hosted portal page
 * (`/portal/{session}`), which offers what the configuration's features allow.
 */
import type Stripe from 'stripe';
import { invalidRequest, missingParam } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { newId } from '../../core/ids';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { requireCustomer } from '../../resources/common';
import { type Emulator, emit, now } from '../context';
import { hostedUrl, learnOrigin } from '../urls';
import { COLLECTIONS } from '../../core/collections';

type Configuration = Stripe.BillingPortal.Configuration;
type Features = Stripe.BillingPortal.Configuration.Features;
type BusinessProfile = Stripe.BillingPortal.Configuration.BusinessProfile;
type Condition = Stripe.BillingPortal.Configuration.Features.SubscriptionUpdate.ScheduleAtPeriodEnd.Condition;

export function requireConfiguration(emulator: Emulator, configId: string): Configuration {
  return emulator.store.require(COLLECTIONS.portalConfiguration, configId, 'billing portal configuration');
}

export function requirePortalSession(emulator: Emulator, sessionId: string): Stripe.BillingPortal.Session {
  return emulator.store.require(COLLECTIONS.portalSession, sessionId, 'billing portal session');
}

function defaultFeatures(): Features {
  return {
    customer_update: { allowed_updates: ['email', 'address'], enabled: false },
    invoice_history: { enabled: true },
    payment_method_update: { enabled: true, payment_method_configuration: null },
    subscription_cancel: {
      cancellation_reason: { enabled: false, feedback_options: null, options: [] },
      enabled: true,
      mode: 'at_period_end',
      proration_behavior: 'none',
    },
    subscription_pause: { duration: { interval_options: [], type: 'indefinite' }, enabled: false },
    subscription_update: {
      billing_cycle_anchor: null,
      default_allowed_updates: ['price'],
      enabled: false,
      products: [],
      proration_behavior: 'create_prorations',
      schedule_at_period_end: { conditions: [] },
      trial_update_behavior: 'end_trial',
    },
  };
}

function applyFeatures(f: Features, r: ParamReader | undefined): void {
  if (!r) return;
  const ih = r.obj('invoice_history');
  if (ih) f.invoice_history.enabled = ih.bool('enabled') ?? f.invoice_history.enabled;
  const pmu = r.obj('payment_method_update');
  if (pmu) f.payment_method_update.enabled = pmu.bool('enabled') ?? f.payment_method_update.enabled;
  const cu = r.obj('customer_update');
  if (cu) {
    f.customer_update.enabled = cu.bool('enabled') ?? f.customer_update.enabled;
    const allowed = cu.strArray('allowed_updates');
    if (allowed) f.customer_update.allowed_updates = allowed;
  }
  const sc = r.obj('subscription_cancel');
  if (sc) {
    f.subscription_cancel.enabled = sc.bool('enabled') ?? f.subscription_cancel.enabled;
    f.subscription_cancel.mode =
      sc.oneOf('mode', ['at_period_end', 'immediately'] as const) ?? f.subscription_cancel.mode;
    f.subscription_cancel.proration_behavior =
      sc.oneOf('proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const) ??
      f.subscription_cancel.proration_behavior;
  }
  const su = r.obj('subscription_update');
  if (su) {
    const u = f.subscription_update;
    u.enabled = su.bool('enabled') ?? u.enabled;
    u.proration_behavior =
      su.oneOf('proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const) ??
      u.proration_behavior;
    const dau = su.strArray('default_allowed_updates');
    if (dau) u.default_allowed_updates = dau;
    const atPeriodEnd = su.obj('schedule_at_period_end');
    if (atPeriodEnd?.has('conditions')) {
      u.schedule_at_period_end = { conditions: readConditions(atPeriodEnd) };
    }
    const products = su.objArray('products');
    if (products) {
      u.products = products.map((pr) => ({
        adjustable_quantity: { enabled: false, maximum: null, minimum: 1 },
        prices: pr.strArray('prices') ?? [],
        product: pr.reqStr('product'),
      }));
    }
  }
}

/**
 * `features[subscription_update][schedule_at_period_end][conditions][i][type]`: when any condition
 * holds for a switch, the portal schedules it for the period end instead of applying it now (the
 * SDK's `ScheduleAtPeriodEnd`); `conditions=''` clears them.
 */
function readConditions(input: ParamReader): Condition[] {
  return (input.objArray('conditions') ?? []).map((c) => {
    const type = c.oneOf('type', ['decreasing_item_amount', 'shortening_interval'] as const);
    if (!type) throw missingParam(c.name('type'));
    return { type };
  });
}

/** An http(s) URL shown as a link on the portal page, or Stripe's 400 `url_invalid`. */
function readLink(input: ParamReader, key: string): string | null {
  const value = input.strOrNull(key) ?? null;
  if (value === null) return null;
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw invalidRequest('Not a valid URL', input.name(key), 'url_invalid');
  }
  return value;
}

/**
 * `business_profile`: the headline and the privacy policy and terms of service links the hosted
 * portal shows (https://docs.stripe.com/api/customer_portal/configurations/update); `''` clears one.
 */
function applyBusinessProfile(profile: BusinessProfile, r: ParamReader | undefined): void {
  if (!r) return;
  if (r.has('headline')) profile.headline = r.strOrNull('headline') ?? null;
  if (r.has('privacy_policy_url')) profile.privacy_policy_url = readLink(r, 'privacy_policy_url');
  if (r.has('terms_of_service_url')) profile.terms_of_service_url = readLink(r, 'terms_of_service_url');
}

function buildConfiguration(emulator: Emulator, isDefault: boolean): Configuration {
  const at = now(emulator, null);
  return {
    id: newId('bpc'),
    object: 'billing_portal.configuration',
    active: true,
    application: null,
    business_profile: { headline: null, privacy_policy_url: null, terms_of_service_url: null },
    created: at,
    default_return_url: null,
    features: defaultFeatures(),
    is_default: isDefault,
    livemode: false,
    login_page: { enabled: false, url: null },
    metadata: {},
    name: null,
    updated: at,
  };
}

function defaultConfiguration(emulator: Emulator): Configuration {
  const found = emulator.store.all(COLLECTIONS.portalConfiguration).find((c) => c.is_default);
  if (found) return found;
  const c = buildConfiguration(emulator, true);
  emulator.store.insert(COLLECTIONS.portalConfiguration, c);
  return c;
}

function createConfiguration(req: ApiRequest): Configuration {
  const { emulator, input } = req;
  const c = buildConfiguration(emulator, false);
  applyFeatures(c.features, input.obj('features'));
  applyBusinessProfile(c.business_profile, input.obj('business_profile'));
  c.default_return_url = input.str('default_return_url') ?? null;
  c.metadata = input.metadata({});
  c.name = input.str('name') ?? null;
  emulator.store.insert(COLLECTIONS.portalConfiguration, c);
  emit(emulator, 'billing_portal.configuration.created', c);
  return c;
}

function updateConfiguration(req: ApiRequest): Configuration {
  const { emulator, input } = req;
  const { obj, previous } = emulator.store.update(
    COLLECTIONS.portalConfiguration,
    req.pathParams.id,
    (c) => {
      applyFeatures(c.features, input.obj('features'));
      applyBusinessProfile(c.business_profile, input.obj('business_profile'));
      if (input.has('active')) c.active = input.bool('active') ?? c.active;
      if (input.has('default_return_url'))
        c.default_return_url = input.strOrNull('default_return_url') ?? null;
      if (input.has('metadata')) c.metadata = input.metadata(c.metadata ?? {});
      if (input.has('name')) c.name = input.strOrNull('name') ?? null;
      c.updated = now(emulator, null);
    },
    'billing portal configuration',
  );
  emit(emulator, 'billing_portal.configuration.updated', obj, previous);
  return obj;
}

function createSession(req: ApiRequest): Stripe.BillingPortal.Session {
  const { emulator, input } = req;
  learnOrigin(emulator, req.headers.host);
  const customer = requireCustomer(emulator, input.reqStr('customer'));
  const configId = input.str('configuration');
  const config = configId ? requireConfiguration(emulator, configId) : defaultConfiguration(emulator);
  if (!config.active) throw invalidRequest('This configuration is inactive.', 'configuration');
  const returnUrl = input.str('return_url') ?? config.default_return_url;
  const sessionId = newId('bps');
  const flowData = input.obj('flow_data');
  const flowType = flowData?.oneOf('type', [
    'payment_method_update',
    'subscription_cancel',
    'subscription_update',
    'subscription_update_confirm',
  ] as const);
  const session: Stripe.BillingPortal.Session = {
    id: sessionId,
    object: 'billing_portal.session',
    configuration: config.id,
    created: now(emulator, customer.id),
    customer: customer.id,
    customer_account: null,
    flow: flowType
      ? {
          after_completion: { hosted_confirmation: null, redirect: null, type: 'portal_homepage' },
          customer_update: null,
          subscription_cancel: null,
          subscription_pause: null,
          subscription_update: null,
          subscription_update_confirm: null,
          type: flowType,
        }
      : null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: returnUrl ?? null,
    url: hostedUrl(emulator, `/portal/${sessionId}`),
  };
  emulator.store.insert(COLLECTIONS.portalSession, session);
  emit(emulator, 'billing_portal.session.created', session);
  return session;
}

export function setup(emulator: Emulator): void {
  defaultConfiguration(emulator);
  emulator.onReset(() => defaultConfiguration(emulator));
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/billing_portal/configurations', handler: createConfiguration },
  {
    method: 'GET',
    path: '/v1/billing_portal/configurations',
    handler: (req) => {
      defaultConfiguration(req.emulator);
      const isDefault = req.input.bool('is_default');
      const active = req.input.bool('active');
      const items = req.emulator.store
        .all(COLLECTIONS.portalConfiguration)
        .filter(
          (c) =>
            (isDefault === undefined || c.is_default === isDefault) &&
            (active === undefined || c.active === active),
        );
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/billing_portal/configurations/:id',
    handler: (req) => requireConfiguration(req.emulator, req.pathParams.id),
  },
  { method: 'POST', path: '/v1/billing_portal/configurations/:id', handler: updateConfiguration },
  { method: 'POST', path: '/v1/billing_portal/sessions', handler: createSession },
];
