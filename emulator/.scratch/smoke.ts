import Stripe from 'stripe';
import { startEmulator } from '../src/index';
(async () => {
  const emu = await startEmulator({ port: 0 });
  const stripe = new Stripe('sk_test_123456789012', { host: '127.0.0.1', port: emu.port, protocol: 'http' });
  const c = await stripe.customers.create({ email: 'a@b.c', metadata: { a: '1' }, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
  console.log(c.id, c.invoice_settings, c.metadata);
  const u = await stripe.customers.update(c.id, { metadata: { a: '', b: '2' } });
  console.log(u.metadata);
  const pms = await stripe.customers.listPaymentMethods(c.id);
  console.log(pms.data.map((p) => [p.id, p.customer, p.card?.last4]));
  const prod = await stripe.products.create({ name: 'P' });
  const meter = await stripe.billing.meters.create({ display_name: 'm', event_name: 'api_calls', default_aggregation: { formula: 'sum' } });
  const price = await stripe.prices.create({ product: prod.id, currency: 'usd', billing_scheme: 'tiered', tiers_mode: 'graduated', tiers: [{ up_to: 10, unit_amount: 5 }, { up_to: 'inf', unit_amount: 2, flat_amount: 100 }], recurring: { interval: 'month', usage_type: 'metered', meter: meter.id }, lookup_key: 'k1' });
  console.log(price.tiers, price.unit_amount_decimal);
  const l = await stripe.prices.list({ lookup_keys: ['k1'], expand: ['data.tiers', 'data.product'] });
  console.log(JSON.stringify(l.data[0].tiers), (l.data[0].product as Stripe.Product).name, l.url);
  await stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: c.id, value: '7' } });
  const s = await stripe.billing.meters.listEventSummaries(meter.id, { customer: c.id, start_time: Math.floor(Date.now() / 60000) * 60 - 600, end_time: Math.floor(Date.now() / 60000) * 60 + 600 });
  console.log(s.data);
  const r = await stripe.customers.search({ query: `email:'a@b.c' AND metadata['b']:'2'` });
  console.log(r.data.length, r.object);
  try { await stripe.customers.retrieve('cus_x'); } catch (e) { console.log((e as Stripe.errors.StripeError).message, (e as Stripe.errors.StripeError).statusCode); }
  const ev = await stripe.events.list({ limit: 3 });
  console.log(ev.data.map((e) => [e.type, e.request, JSON.stringify(e.data.previous_attributes)]));
  try { await stripe.v2.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: c.id, value: '3' } }); console.log('v2 ok'); } catch (e) { console.log('v2', e); }
  await emu.close();
})();
