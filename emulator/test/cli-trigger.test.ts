/**
 * The official Stripe CLI (1.52.0, npm `@stripe/cli-linux-x64`) as an outside client:
 * `stripe trigger <event> --api-key … --api-base <emulator>` must succeed, and the emulator must
 * deliver the resulting events, verified with `constructEvent`.
 *
 * Billing triggers run once the billing engine serves their endpoints (checked against the
 * registry below): add a row to TRIGGERS when a new fixture should be covered.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Method } from '../src/core/http';
import { Router } from '../src/core/router';
import { modules } from '../src/registry';
import { type Receiver, startReceiver, startTestEmulator, type TestEmulator } from './core-helpers';

const CLI = join(__dirname, '../../node_modules/@stripe/cli-linux-x64/bin/stripe');
const CLI_KEY = 'sk_test_1234567890abcdef';
const CLI_TIMEOUT_MS = 30000;

interface Trigger {
  event: string;
  /** Events that must be delivered (in addition to `event` itself). */
  expect: string[];
  /** Endpoints the fixture calls; the case fails at once, naming them, if one is not served. */
  needs: [Method, string][];
}

const TRIGGERS: Trigger[] = [
  { event: 'customer.created', expect: ['customer.created'], needs: [['POST', '/v1/customers']] },
  {
    event: 'customer.updated',
    expect: ['customer.created', 'customer.updated'],
    needs: [['POST', '/v1/customers/cus_x']],
  },
  {
    event: 'customer.subscription.created',
    expect: ['payment_method.attached', 'customer.subscription.created'],
    needs: [['POST', '/v1/subscriptions']],
  },
  {
    event: 'customer.subscription.updated',
    expect: ['customer.subscription.updated'],
    needs: [['POST', '/v1/subscriptions/sub_x']],
  },
  {
    event: 'customer.subscription.deleted',
    expect: ['customer.subscription.deleted'],
    needs: [['DELETE', '/v1/subscriptions/sub_x']],
  },
  {
    event: 'invoice.paid',
    expect: ['invoice.paid'],
    needs: [
      ['POST', '/v1/invoiceitems'],
      ['POST', '/v1/invoices'],
      ['POST', '/v1/invoices/in_x/pay'],
    ],
  },
  {
    event: 'invoice.payment_failed',
    expect: ['invoice.payment_failed'],
    needs: [
      ['POST', '/v1/invoiceitems'],
      ['POST', '/v1/invoices'],
      ['POST', '/v1/invoices/in_x/pay'],
    ],
  },
  {
    event: 'checkout.session.completed',
    expect: ['checkout.session.completed'],
    needs: [
      ['POST', '/v1/checkout/sessions'],
      ['GET', '/v1/payment_pages/cs_x'],
      ['POST', '/v1/payment_pages/cs_x/confirm'],
    ],
  },
  // Billing engine: more fixtures the CLI ships, each checked for its own event.
  {
    event: 'invoice.finalized',
    expect: ['invoice.created', 'invoice.finalized'],
    needs: [['POST', '/v1/invoices/in_x/finalize']],
  },
  {
    event: 'invoice.payment_succeeded',
    expect: ['invoice.paid', 'payment_intent.succeeded', 'charge.succeeded'],
    needs: [['POST', '/v1/invoices/in_x/pay']],
  },
  {
    event: 'payment_intent.succeeded',
    expect: ['payment_intent.created', 'charge.succeeded'],
    needs: [['POST', '/v1/payment_intents']],
  },
  {
    event: 'charge.failed',
    expect: ['payment_intent.payment_failed'],
    needs: [['POST', '/v1/payment_intents']],
  },
  {
    event: 'subscription_schedule.created',
    expect: ['customer.subscription.created'],
    needs: [['POST', '/v1/subscription_schedules']],
  },
  {
    event: 'subscription_schedule.released',
    expect: ['subscription_schedule.created'],
    needs: [['POST', '/v1/subscription_schedules/sub_sched_x/release']],
  },
  {
    event: 'checkout.session.expired',
    expect: ['checkout.session.expired'],
    needs: [['POST', '/v1/checkout/sessions/cs_x/expire']],
  },
  {
    event: 'customer.subscription.trial_will_end',
    expect: ['customer.subscription.created'],
    needs: [['POST', '/v1/subscriptions']],
  },
  // Refunds and disputes: the CLI refunds a pm_card_visa payment, or pays with
  // pm_card_createDisputeInquiry and finds the dispute with GET /v1/disputes?payment_intent=….
  {
    event: 'charge.refunded',
    expect: ['charge.succeeded', 'refund.created'],
    needs: [['POST', '/v1/refunds']],
  },
  {
    event: 'charge.refund.updated',
    expect: ['charge.refunded', 'refund.updated'],
    needs: [['POST', '/v1/refunds/re_x']],
  },
  {
    event: 'charge.dispute.created',
    expect: ['charge.succeeded'],
    needs: [['POST', '/v1/payment_intents']],
  },
  {
    event: 'charge.dispute.updated',
    expect: ['charge.dispute.created'],
    needs: [
      ['GET', '/v1/disputes'],
      ['POST', '/v1/disputes/du_x'],
    ],
  },
  {
    event: 'charge.dispute.closed',
    expect: ['charge.dispute.created'],
    needs: [
      ['GET', '/v1/disputes'],
      ['POST', '/v1/disputes/du_x/close'],
    ],
  },
];

const router = new Router();
for (const m of modules) for (const r of m.routes ?? []) router.add(r);

function runCli(args: string[], home: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        STRIPE_CLI_TELEMETRY_OPTOUT: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`stripe ${args.join(' ')} did not finish in ${CLI_TIMEOUT_MS} ms:\n${out}`));
    }, CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

let emulator: TestEmulator;
let rx: Receiver;
let secret = '';
let home: string;

beforeAll(async () => {
  expect(existsSync(CLI)).toBe(true);
  home = mkdtempSync(join(tmpdir(), 'stripe-cli-home-'));
  emulator = await startTestEmulator();
  rx = await startReceiver(() => secret);
});
afterAll(async () => {
  await emulator.close();
  await rx.close();
  rmSync(home, { recursive: true, force: true });
});
beforeEach(async () => {
  await emulator.control('/_emulator/reset');
  rx.received.length = 0;
  const we = await emulator.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ['*'] });
  secret = we.secret ?? '';
});

describe.each(TRIGGERS)('stripe trigger $event', (t) => {
  test(
    'succeeds against the emulator and its events are delivered signed',
    async () => {
      expect(t.needs.filter(([method, path]) => router.match(method, path).kind !== 'found')).toEqual([]);
      const { code, out } = await runCli(
        ['trigger', t.event, '--api-key', CLI_KEY, '--api-base', emulator.url],
        home,
      );
      expect({ code, out }).toMatchObject({ code: 0 });
      expect(out).toMatch(/Trigger succeeded/);
      await emulator.flush();
      expect(rx.rejected).toEqual([]);
      const types = rx.received.map((r) => r.event.type);
      for (const e of [t.event, ...t.expect]) expect(types).toContain(e);
    },
    CLI_TIMEOUT_MS + 10000,
  );
});

test('the CLI is refused without a valid key (no hang, non-zero exit)', async () => {
  const { code, out } = await runCli(
    ['trigger', 'customer.created', '--api-key', 'sk_live_bad_key_000', '--api-base', emulator.url],
    home,
  );
  expect(code).not.toBe(0);
  expect(out).toMatch(/401|API Key|Invalid/i);
});
