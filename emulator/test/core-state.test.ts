/** State saved to and reloaded from `--data FILE`, and the CLI's flag parsing. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Stripe from 'stripe';
import { parseArgs } from '../src/cli';
import { chargeOutcome } from '../src/resources/payment-methods';
import { startTestEmulator } from './core-helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stripe-emulator-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('objects, secrets, events and the clock offset survive a restart', async () => {
  const file = join(dir, 'state.json');
  const first = await startTestEmulator({ dataFile: file });
  const c = await first.stripe.customers.create({
    email: 'keep@x.test',
    payment_method: 'pm_card_chargeCustomerFail',
  });
  const prod = await first.stripe.products.create({ name: 'Keep' });
  await first.stripe.prices.create({
    product: prod.id,
    currency: 'usd',
    unit_amount: 500,
    lookup_key: 'keep',
  });
  const we = await first.stripe.webhookEndpoints.create({
    url: 'http://127.0.0.1:1/x',
    enabled_events: ['*'],
  });
  await first.control('/_emulator/clock/advance', { seconds: 3600 });
  const offset = first.emulator.clock.offset;
  await first.close();
  expect(JSON.parse(readFileSync(file, 'utf8')).version).toBe(1);

  const second = await startTestEmulator({ dataFile: file });
  try {
    const got = (await second.stripe.customers.retrieve(c.id)) as Stripe.Customer;
    expect(got.email).toBe('keep@x.test');
    const prices = await second.stripe.prices.list({ lookup_keys: ['keep'] });
    expect(prices.data).toHaveLength(1);
    expect((await second.stripe.events.list({ type: 'customer.created' })).data).toHaveLength(1);
    expect(second.emulator.clock.offset).toBe(offset);
    expect((await second.stripe.webhookEndpoints.retrieve(we.id)).url).toBe('http://127.0.0.1:1/x');
    // The pm keeps its charge behaviour across the restart.
    const pms = await second.stripe.customers.listPaymentMethods(c.id);
    expect(chargeOutcome(second.emulator, pms.data[0].id)).toMatchObject({
      ok: false,
      code: 'card_declined',
    });
    // New ids don't collide with loaded ones and list order continues.
    const c2 = await second.stripe.customers.create({});
    expect((await second.stripe.customers.list({ limit: 1 })).data[0].id).toBe(c2.id);
  } finally {
    await second.close();
  }
});

test('reset is saved too', async () => {
  const file = join(dir, 'reset.json');
  const a = await startTestEmulator({ dataFile: file });
  await a.stripe.customers.create({});
  await a.control('/_emulator/reset');
  await a.close();
  const b = await startTestEmulator({ dataFile: file });
  try {
    expect((await b.stripe.customers.list()).data).toHaveLength(0);
  } finally {
    await b.close();
  }
});

test('CLI flags and env', () => {
  expect(parseArgs([], {})).toMatchObject({ port: 12111, host: '127.0.0.1' });
  expect(parseArgs([], { STRIPE_EMULATOR_PORT: '4000', STRIPE_EMULATOR_DATA: '/tmp/x.json' })).toMatchObject({
    port: 4000,
    dataFile: '/tmp/x.json',
  });
  expect(
    parseArgs(
      ['--port', '5000', '--data=/tmp/y.json', '--forward-to', 'http://h/w', '--webhook-secret', 'whsec_1'],
      {
        STRIPE_EMULATOR_PORT: '4000',
      },
    ),
  ).toMatchObject({ port: 5000, dataFile: '/tmp/y.json', forwardTo: 'http://h/w', webhookSecret: 'whsec_1' });
  expect(() => parseArgs(['--bogus'], {})).toThrow(/unknown option/);
  expect(() => parseArgs(['--port', 'abc'], {})).toThrow(/invalid --port/);
});

test('`npx stripe-emulator` entry point: starts, serves, saves --data on SIGTERM', async () => {
  const file = join(dir, 'cli.json');
  const child = spawn(
    process.execPath,
    [join(__dirname, '../bin/stripe-emulator.js'), '--port', '0', '--data', file],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`emulator did not start in 20 s: ${out}`)), 20000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('exit', (code) => reject(new Error(`emulator exited with ${code}: ${out}`)));
    });
    const res = await fetch(`${url}/v1/customers`, {
      method: 'POST',
      headers: {
        Authorization: 'Bearer sk_test_cli_process_1',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'email=cli%40x.test',
    });
    expect(res.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no exit within 10 s')), 10000)),
    ]);
    expect(code).toBe(0);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      collections: { customer: Record<string, { obj: { email: string } }> };
    };
    expect(Object.values(saved.collections.customer).map((e) => e.obj.email)).toEqual(['cli@x.test']);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}, 40000);
