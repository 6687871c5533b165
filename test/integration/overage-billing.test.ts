import type Stripe from 'stripe';
import { silentLogger } from '../../src/logging/logger';
import { OverageReporter } from '../../src/services/usage/overage-reporter';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { stripeServicesOf } from '../support/service';

/**
 * Overage billing end to end: the service (GraphQL, usage meter, overage reporter) over real PostgreSQL and the
 * Stripe emulator through the real SDK. Subscriptions carry the metered prices of their plan and interval;
 * usage beyond the allowance reaches Stripe's meter and is billed on the invoice that closes the period.
 */

const DAY = 24 * 3600;
const ALLOWED = 'http://localhost:3000';
const METERED_MONTHLY = ['price_ai_requests_overage', 'price_storage_mb_overage'];

async function subscribe(
  stack: BillingStack,
  accountId: string,
  planKey: string,
  interval: 'MONTH' | 'YEAR',
) {
  const gql = await stack.as(accountId);
  const result = await gql<{ createSubscription: { id: string } }>(
    `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }`,
    { input: { planKey, interval, paymentMethodId: 'pm_card_visa' } },
  );
  expect(result.errors).toBeUndefined();
  const record = (quantity: number, idempotencyKey: string) =>
    gql('mutation($input: RecordUsageInput!) { recordUsage(input: $input) { __typename } }', {
      input: { metric: 'ai_requests', quantity, idempotencyKey },
    });
  return { gql, record, subscriptionId: result.data?.createSubscription.id as string };
}

function linesFor(invoice: Stripe.Invoice, priceId: string): Stripe.InvoiceLineItem[] {
  return invoice.lines.data.filter((line) => line.pricing?.price_details?.price === priceId);
}

async function priceIds(stack: BillingStack): Promise<Map<string, string>> {
  const keys = ['price_starter_monthly', ...METERED_MONTHLY];
  const prices = await stack.stripe.prices.list({ lookup_keys: keys, limit: 100 });
  return new Map(prices.data.map((price) => [price.lookup_key as string, price.id]));
}

/** The `subscription_cycle` invoice that closed the subscription's first period. */
async function renewalOf(stack: BillingStack, subscriptionId: string): Promise<Stripe.Invoice> {
  const invoices = await stack.stripe.invoices.list({ subscription: subscriptionId, limit: 100 });
  const renewal = invoices.data.find((invoice) => invoice.billing_reason === 'subscription_cycle');
  if (!renewal) throw new Error('no renewal invoice');
  return renewal;
}

describe('overage billing through Stripe Billing Meters', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED });
  });
  afterAll(() => stack.stop());

  /** The lookup keys of a subscription's items in Stripe, with the quantity of each. */
  async function itemsOf(subscriptionId: string): Promise<Array<[string | null, number | null]>> {
    const subscription = await stack.stripe.subscriptions.retrieve(subscriptionId);
    return subscription.items.data
      .map((item): [string | null, number | null] => [item.price.lookup_key, item.quantity ?? null])
      .sort(([a], [b]) => String(a).localeCompare(String(b)));
  }

  it('bills 250 requests beyond starter’s 1,000 at $0.01 on the renewal invoice, beside the $19.00 plan', async () => {
    const { record, subscriptionId } = await subscribe(stack, 'acct_overage_e2e', 'starter', 'MONTH');
    expect(await itemsOf(subscriptionId)).toEqual([
      ['price_ai_credits_overage', null],
      ['price_ai_requests_overage', null],
      ['price_starter_monthly', 1],
      ['price_storage_mb_overage', null],
    ]);

    expect((await record(1250, 'overage-e2e-1')).errors).toBeUndefined();

    const reporter = stack.app.overageReporter;
    expect(await reporter?.flush()).toMatchObject({ reported: 1, units: 250, failed: 0 });
    // Reported once: a second flush finds nothing new.
    expect(await reporter?.flush()).toMatchObject({ reported: 0 });

    await stack.advanceClock(32 * DAY);
    const ids = await priceIds(stack);
    const renewal = await renewalOf(stack, subscriptionId);
    const overage = linesFor(renewal, ids.get('price_ai_requests_overage') as string);
    expect(overage.map((line) => [line.quantity, line.amount])).toEqual([[250, 250]]);
    expect(linesFor(renewal, ids.get('price_starter_monthly') as string).map((line) => line.amount)).toEqual([
      1900,
    ]);
    const storage = linesFor(renewal, ids.get('price_storage_mb_overage') as string);
    expect(storage.every((line) => line.amount === 0)).toBe(true);
    expect(renewal).toMatchObject({ amount_due: 1900 + 250, currency: 'usd', status: 'paid' });
  });

  it('a yearly subscription carries the yearly metered prices, and an interval switch swaps them at the period end', async () => {
    const { subscriptionId } = await subscribe(stack, 'acct_overage_yearly', 'starter', 'YEAR');
    expect(await itemsOf(subscriptionId)).toEqual([
      ['price_ai_credits_overage_yearly', null],
      ['price_ai_requests_overage_yearly', null],
      ['price_starter_yearly', 1],
      ['price_storage_mb_overage_yearly', null],
    ]);

    const { gql, subscriptionId: monthlyId } = await subscribe(
      stack,
      'acct_overage_to_yearly',
      'starter',
      'MONTH',
    );
    const changed = await gql<{ changeSubscription: { interval: string; plan: { key: string } } }>(
      'mutation { changeSubscription(input: { planKey: "professional", interval: YEAR }) { interval plan { key } scheduledChange { plan { key } interval } } }',
    );
    expect(changed.errors).toBeUndefined();
    // Switching interval waits for the period end: the month is billed as it was bought.
    expect(changed.data?.changeSubscription).toEqual({
      interval: 'MONTH',
      plan: { key: 'starter' },
      scheduledChange: { plan: { key: 'professional' }, interval: 'YEAR' },
    });
    expect(await itemsOf(monthlyId)).toEqual([
      ['price_ai_credits_overage', null],
      ['price_ai_requests_overage', null],
      ['price_starter_monthly', 1],
      ['price_storage_mb_overage', null],
    ]);
    await stack.advanceClock(32 * DAY);
    expect(await itemsOf(monthlyId)).toEqual([
      ['price_ai_credits_overage_yearly', null],
      ['price_ai_requests_overage_yearly', null],
      ['price_professional_yearly', 1],
      ['price_storage_mb_overage_yearly', null],
    ]);
  });

  it('an upgrade now keeps the metered items; a downgrade at the period end carries them into the next phase', async () => {
    const { gql, subscriptionId } = await subscribe(stack, 'acct_overage_changes', 'starter', 'MONTH');
    const before = await stack.stripe.subscriptions.retrieve(subscriptionId);
    const meteredIds = before.items.data
      .filter((item) => item.price.recurring?.usage_type === 'metered')
      .map((item) => item.id)
      .sort();

    const upgraded = await gql<{ changeSubscription: { plan: { key: string } } }>(
      'mutation { changeSubscription(input: { planKey: "professional" }) { plan { key } } }',
    );
    expect(upgraded.errors).toBeUndefined();
    expect(upgraded.data?.changeSubscription.plan.key).toBe('professional');
    const after = await stack.stripe.subscriptions.retrieve(subscriptionId);
    // The same metered items (their usage keeps counting), and the upgrade invoice prorates only the plan.
    expect(
      after.items.data
        .filter((item) => item.price.recurring?.usage_type === 'metered')
        .map((item) => item.id)
        .sort(),
    ).toEqual(meteredIds);
    const upgradeInvoice = await stack.stripe.invoices.retrieve(String(after.latest_invoice));
    const meteredPrices = new Set(
      after.items.data.filter((i) => i.price.recurring?.usage_type === 'metered').map((i) => i.price.id),
    );
    expect(
      upgradeInvoice.lines.data.filter((line) =>
        meteredPrices.has(line.pricing?.price_details?.price as string),
      ),
    ).toEqual([]);

    const downgraded = await gql<{ changeSubscription: { scheduledChange: { plan: { key: string } } } }>(
      'mutation { changeSubscription(input: { planKey: "starter" }) { scheduledChange { plan { key } } } }',
    );
    expect(downgraded.errors).toBeUndefined();
    expect(downgraded.data?.changeSubscription.scheduledChange.plan.key).toBe('starter');
    const scheduled = await stack.stripe.subscriptions.retrieve(subscriptionId);
    const schedule = await stack.stripe.subscriptionSchedules.retrieve(String(scheduled.schedule));
    const lookupKeys = async (phase: Stripe.SubscriptionSchedule.Phase) => {
      const keys: string[] = [];
      for (const phaseItem of phase.items) {
        const price = await stack.stripe.prices.retrieve(String(phaseItem.price));
        keys.push(`${price.lookup_key}×${phaseItem.quantity ?? '-'}`);
      }
      return keys.sort();
    };
    expect(await lookupKeys(schedule.phases[0] as Stripe.SubscriptionSchedule.Phase)).toEqual([
      'price_ai_credits_overage×-',
      'price_ai_requests_overage×-',
      'price_professional_monthly×1',
      'price_storage_mb_overage×-',
    ]);
    expect(await lookupKeys(schedule.phases[1] as Stripe.SubscriptionSchedule.Phase)).toEqual([
      'price_ai_credits_overage×-',
      'price_ai_requests_overage×-',
      'price_starter_monthly×1',
      'price_storage_mb_overage×-',
    ]);
  });

  it('Checkout offers the plan with its metered prices, which carry no quantity', async () => {
    const gql = await stack.as('acct_overage_checkout');
    const created = await gql<{ createCheckoutSession: { id: string } }>(
      `mutation { createCheckoutSession(input: { planKey: "starter", interval: MONTH,
        successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/cancel" }) { id } }`,
    );
    expect(created.errors).toBeUndefined();
    const sessionId = created.data?.createCheckoutSession.id as string;
    const session = await stack.stripe.checkout.sessions.retrieve(sessionId);
    expect(session.amount_total).toBe(1900);
    const lines = await stack.stripe.checkout.sessions.listLineItems(sessionId);
    expect(
      lines.data
        .map((line) => [line.price?.lookup_key, line.quantity])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    ).toEqual([
      ['price_ai_credits_overage', null],
      ['price_ai_requests_overage', null],
      ['price_starter_monthly', 1],
      ['price_storage_mb_overage', null],
    ]);
  });
});

// Its own stack: the emulator's clock must not have been moved ahead of the service's before usage is recorded.
describe('a mid-period upgrade', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack();
  });
  afterAll(() => stack.stop());

  it('keeps the overage already reported billed, and reports nothing below it', async () => {
    const { gql, record, subscriptionId } = await subscribe(
      stack,
      'acct_overage_upgrade',
      'starter',
      'MONTH',
    );
    expect((await record(1250, 'upgrade-1')).errors).toBeUndefined();
    const reporter = stack.app.overageReporter;
    expect(await reporter?.flush()).toMatchObject({ reported: 1, units: 250 });

    const upgraded = await gql('mutation { changeSubscription(input: { planKey: "professional" }) { id } }');
    expect(upgraded.errors).toBeUndefined();
    // Professional includes 10,000: 1,350 is no overage, and nothing is taken back.
    expect((await record(100, 'upgrade-2')).errors).toBeUndefined();
    expect(await reporter?.flush()).toMatchObject({ reported: 0, failed: 0 });

    await stack.advanceClock(32 * DAY);
    const ids = await priceIds(stack);
    const renewal = await renewalOf(stack, subscriptionId);
    expect(
      linesFor(renewal, ids.get('price_ai_requests_overage') as string).map((line) => line.amount),
    ).toEqual([250]);
  });
});

// Its own stack: both subscriptions must start at the emulator's first instant, and the renewal drafts be fresh.
describe('overage reported after its period closed', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack();
    // The reporters below run on the emulator's clock; the service's own must not report meanwhile.
    await stack.app.overageReporter?.stop();
  });
  afterAll(() => stack.stop());

  /** A reporter of the service's database and Stripe client whose time is the emulator's (Stripe's) time. */
  function reporterAt(nowSeconds: number): OverageReporter {
    const { app } = stack;
    return new OverageReporter({
      em: app.orm.em,
      stripe: stripeServicesOf(app).stripe,
      catalog: app.services.catalog,
      logger: silentLogger,
      intervalMs: 60_000,
      now: () => new Date(nowSeconds * 1000),
    });
  }

  async function emulatorNow(): Promise<number> {
    const response = await fetch(`${stack.emulator.url}/_emulator/clock`);
    return ((await response.json()) as { now: number }).now;
  }

  async function periodEndOf(subscriptionId: string): Promise<number> {
    const subscription = await stack.stripe.subscriptions.retrieve(subscriptionId);
    return subscription.items.data[0]?.current_period_end as number;
  }

  async function overageOn(invoice: Stripe.Invoice): Promise<number[]> {
    const ids = await priceIds(stack);
    return linesFor(invoice, ids.get('price_ai_requests_overage') as string).map((line) => line.amount);
  }

  it('lands on the renewal while Stripe keeps it a draft, and on the next invoice after that: billed, never lost', async () => {
    const inTime = await subscribe(stack, 'acct_overage_late_draft', 'starter', 'MONTH');
    const tooLate = await subscribe(stack, 'acct_overage_late_next', 'starter', 'MONTH');
    // 250 requests over the allowance each, recorded before the period ended, never reported before it did.
    expect((await inTime.record(1250, 'late-draft-1')).errors).toBeUndefined();
    expect((await tooLate.record(1250, 'late-next-1')).errors).toBeUndefined();
    // Created a moment apart, the two periods may end a second apart: each is reported on its own clock.
    const inTimeEnd = await periodEndOf(inTime.subscriptionId);
    const tooLateEnd = await periodEndOf(tooLate.subscriptionId);
    const advanceTo = async (seconds: number) => stack.advanceClock(seconds - (await emulatorNow()));

    // Ten minutes into the renewal's draft hour: stamped with the period's last second, on the draft.
    await advanceTo(inTimeEnd + 600);
    expect(await reporterAt(inTimeEnd + 600).flushAccount('acct_overage_late_draft')).toMatchObject({
      reported: 1,
      units: 250,
    });
    // Fifty minutes in, past our margin: stamped now, in the new period.
    await advanceTo(tooLateEnd + 3000);
    expect(await reporterAt(tooLateEnd + 3000).flushAccount('acct_overage_late_next')).toMatchObject({
      reported: 1,
      units: 250,
    });

    // Stripe finalizes the drafts an hour after the period end.
    await stack.advanceClock(2 * 3600);
    const inTimeRenewal = await renewalOf(stack, inTime.subscriptionId);
    expect(inTimeRenewal.status).toBe('paid');
    expect(await overageOn(inTimeRenewal)).toEqual([250]);
    const tooLateRenewal = await renewalOf(stack, tooLate.subscriptionId);
    expect(tooLateRenewal.status).toBe('paid');
    expect((await overageOn(tooLateRenewal)).filter((amount) => amount > 0)).toEqual([]);

    // One period late: the next renewal carries it.
    await stack.advanceClock(32 * DAY);
    const invoices = await stack.stripe.invoices.list({ subscription: tooLate.subscriptionId, limit: 100 });
    const renewals = invoices.data.filter((invoice) => invoice.billing_reason === 'subscription_cycle');
    expect(renewals).toHaveLength(2);
    const next = renewals.find((invoice) => invoice.id !== tooLateRenewal.id) as Stripe.Invoice;
    expect(await overageOn(next)).toEqual([250]);
  });
});
