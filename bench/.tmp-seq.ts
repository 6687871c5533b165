import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { Client } from 'pg';
import { startEmulator } from '../emulator/src/index';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
import { loadPlanCatalog } from '../src/services/plans/plan-catalog';
import { syncCatalog } from '../src/services/stripe/catalog-sync';
const queries: string[] = [];
async function main() {
  const name = `billing_tmp_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect(); await admin.query(`create database "${name}"`);
  const emu = await startEmulator({ port: 0 });
  const stripe = new Stripe('sk_test_timing_0123456789', { host: '127.0.0.1', port: emu.port, protocol: 'http' });
  await syncCatalog(stripe, loadPlanCatalog());
  const secret = 'whsec_tmp';
  const service = await startService(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'warn', DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`, AUTH_JWT_SECRET: 'x'.repeat(40), STRIPE_SECRET_KEY: 'sk_test_timing_0123456789', STRIPE_API_BASE: emu.url, STRIPE_WEBHOOK_SECRET: secret, STRIPE_MAX_REQUESTS_PER_SECOND: '1000', RECONCILE_INTERVAL_MS: '0' }), { migrate: true });
  const [price] = (await stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data;
  const subs: Stripe.Subscription[] = [];
  for (let i = 0; i < 40; i++) {
    const c = await stripe.customers.create({ metadata: { account_id: `acct_t${i}` }, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    subs.push(await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }], metadata: { account_id: `acct_t${i}` } }));
  }
  let k = 0;
  const sign = () => { const s = subs[k++ % subs.length]; const body = JSON.stringify({ id: `evt_${randomBytes(8).toString('hex')}`, object: 'event', created: Math.floor(Date.now()/1000), type: 'customer.subscription.updated', data: { object: s } }); return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret }) }; };
  const post = async () => { const e = sign(); const r = await fetch(`${service.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': e.signature }, body: e.body }); await r.text(); };
  for (let i = 0; i < 40; i++) await post();
  for (const c of [1, 4, 16, 1]) {
    const t = performance.now();
    let n = 0;
    await Promise.all(Array.from({ length: c }, async () => { while (n < 200) { n++; await post(); } }));
    console.log(`events/s (${c} concurrent)`, 200 / ((performance.now() - t) / 1000));
  }
  await service.stop(); await emu.close(); await admin.query(`drop database "${name}" with (force)`); await admin.end();
}
void main();
