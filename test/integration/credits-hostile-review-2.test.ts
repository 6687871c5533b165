import { randomUUID } from 'node:crypto';
import { Notification } from '../../src/entities';
import { customerWithCard } from '../support/stripe-customer';
import type { StripeClient } from '../../src/services/stripe/stripe-client';
import { voidUnpaidTopUp } from '../../src/services/credits/waiting-top-ups';
import type { BillingStack, GraphQLCaller } from '../support/billing-stack';
import { waitUntil } from '../support/wait';
import {
  type Customer,
  FINALIZATION_GRACE,
  lastInvoice,
  linesOf,
  startWorld,
  type World,
} from '../integrity/world';

/**
 * Issue 17 from outside, second pass (the first: credits-hostile-review.test.ts): automatic top-up, the spend limit
 * and reservations' keys, as a hostile customer or a careless admin would try them, through the public GraphQL API
 * against the Stripe emulator. Each test names what it tries and what docs/credits.md promises.
 */
let world: World;
let stack: BillingStack;
let admin: GraphQLCaller;
let gateway: GraphQLCaller;

beforeAll(async () => {
  world = await startWorld();
  stack = world.stack;
  admin = await stack.as('acct_hostile2_ops', ['admin']);
  gateway = await stack.as('svc_hostile2_gateway', ['service']);
});
afterAll(() => world.stop());

const SET_AUTO_TOP_UP = `mutation($input: SetAutoTopUpInput!) {
  setAutoTopUp(input: $input) { enabled belowCredits packKey charging lastFailure } }`;
const RESERVE = `mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id } }`;

async function available(gql: GraphQLCaller): Promise<number> {
  const answer = await gql<{ viewer: { balance: { available: number } } }>(
    '{ viewer { balance { available } } }',
  );
  expect(answer.errors).toBeUndefined();
  return answer.data?.viewer.balance.available as number;
}

async function grant(accountId: string, credits: number, reason = 'review'): Promise<void> {
  const answer = await admin(
    'mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { duplicate } }',
    { input: { accountId, credits, reason, idempotencyKey: randomUUID() } },
  );
  expect(answer.errors).toBeUndefined();
}

/** The Stripe invoices of the customer: [status, total] each. */
async function invoicesOf(stripeCustomerId: string): Promise<Array<[string | null, number]>> {
  const invoices = await stack.stripe.invoices.list({ customer: stripeCustomerId, limit: 100 });
  return invoices.data.map((invoice) => [invoice.status, invoice.total]);
}

describe('automatic top-up', () => {
  it('charges one pack when the same setting is sent again after it topped up (a double click, a retried form)', async () => {
    const account = 'acct_hostile2_resave';
    const stripeCustomerId = await customerWithCard(stack, account, 'pm_card_visa');
    const gql = await stack.as(account);
    // A threshold far above what one pack brings: after the pack the account is still below it.
    const setting = { enabled: true, belowCredits: 1_000_000, packKey: 'credits_10k' };
    const start = await available(gql);
    const first = await gql(SET_AUTO_TOP_UP, { input: setting });
    expect(first.errors).toBeUndefined();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['paid', 1000]]);
    expect(await available(gql)).toBe(start + 10_000);

    // The same form sent again, and once more with only the pack changed: not a new crossing, nothing charged.
    for (const again of [setting, { ...setting, packKey: 'credits_50k' }]) {
      const answer = await gql(SET_AUTO_TOP_UP, { input: again });
      expect(answer.errors).toBeUndefined();
    }
    expect(await invoicesOf(stripeCustomerId)).toEqual([['paid', 1000]]);
    expect(await available(gql)).toBe(start + 10_000);

    // Turned off and on again is the customer starting afresh (docs/credits.md): below it, that tops up at once.
    await gql(SET_AUTO_TOP_UP, { input: { ...setting, enabled: false } });
    const again = await gql(SET_AUTO_TOP_UP, { input: setting });
    expect(again.errors).toBeUndefined();
    expect(await invoicesOf(stripeCustomerId)).toEqual([
      ['paid', 1000],
      ['paid', 1000],
    ]);
  });

  it('charges exactly once when 20 reservations cross the threshold at once', async () => {
    const account = 'acct_hostile2_burst';
    const stripeCustomerId = await customerWithCard(stack, account, 'pm_card_visa');
    const gql = await stack.as(account);
    await grant(account, 1000);
    const start = await available(gql);
    // 50 below the start: 20 reservations of 3 credits (60) cross it, each seeing the fall.
    const set = await gql(SET_AUTO_TOP_UP, {
      input: { enabled: true, belowCredits: start - 50, packKey: 'credits_10k' },
    });
    expect(set.errors).toBeUndefined();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        gateway(RESERVE, {
          input: { accountId: account, model: 'claude-sonnet-4', inputTokens: 1000, maxOutputTokens: 0 },
        }),
      ),
    );
    expect(answers.map((answer) => answer.errors)).toEqual(Array(20).fill(undefined));
    await waitUntil(async () => (await available(gql)) === start - 60 + 10_000, 'the pack is granted');
    await waitUntil(async () => {
      const view = await gql<{ viewer: { autoTopUp: { charging: boolean } } }>(
        '{ viewer { autoTopUp { charging } } }',
      );
      return view.data?.viewer.autoTopUp.charging === false;
    }, 'the charge is over');
    expect(await invoicesOf(stripeCustomerId)).toEqual([['paid', 1000]]);
  });
});

describe('automatic top-up waiting for the bank', () => {
  it('charges no second pack when turned on again while the first still waits for the customer’s approval', async () => {
    const account = 'acct_hostile2_3ds_again';
    const stripeCustomerId = await customerWithCard(stack, account, 'pm_card_authenticationRequired');
    const gql = await stack.as(account);
    const setting = { enabled: true, belowCredits: (await available(gql)) + 1, packKey: 'credits_10k' };
    const first = await gql(SET_AUTO_TOP_UP, { input: setting });
    expect(first.data?.setAutoTopUp).toMatchObject({
      enabled: false,
      lastFailure: 'authentication_required',
    });
    expect(await invoicesOf(stripeCustomerId)).toEqual([['open', 1000]]);

    // Turned on again without approving: the fall's pack is the open invoice, not a second one to approve.
    const again = await gql(SET_AUTO_TOP_UP, { input: setting });
    expect(again.data?.setAutoTopUp).toMatchObject({
      enabled: false,
      lastFailure: 'authentication_required',
    });
    expect(await invoicesOf(stripeCustomerId)).toEqual([['open', 1000]]);
    // Both mails point at the one invoice to approve.
    const mails = await stack.app.orm.em
      .fork()
      .find(Notification, { accountId: account, kind: 'auto_top_up_failed' });
    const [open] = (await stack.stripe.invoices.list({ customer: stripeCustomerId })).data;
    expect(mails.map((mail) => mail.data.hostedInvoiceUrl)).toEqual([
      open?.hosted_invoice_url,
      open?.hosted_invoice_url,
    ]);
  });
});

describe('an automatic top-up that waits for the bank and is never approved (row 111)', () => {
  const SPEND = '{ viewer { spendLimit { topUpCents remainingCents } } }';
  async function spendOf(gql: GraphQLCaller) {
    const answer = await gql<{ viewer: { spendLimit: Record<string, number> } }>(SPEND);
    expect(answer.errors).toBeUndefined();
    return answer.data?.viewer.spendLimit;
  }

  /** A $15.00 limit and a top-up whose bank asks to approve: its $10.00 invoice waits, counted against the limit. */
  async function waitingTopUp(account: string) {
    const stripeCustomerId = await customerWithCard(stack, account, 'pm_card_authenticationRequired');
    const gql = await stack.as(account);
    const limit = await gql('mutation { setSpendLimit(input: { monthlyCents: 1500 }) { monthlyCents } }');
    expect(limit.errors).toBeUndefined();
    const setting = { enabled: true, belowCredits: (await available(gql)) + 1, packKey: 'credits_10k' };
    const first = await gql(SET_AUTO_TOP_UP, { input: setting });
    expect(first.data?.setAutoTopUp).toMatchObject({
      enabled: false,
      lastFailure: 'authentication_required',
    });
    await stack.flushWebhooks();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['open', 1000]]);
    expect(await spendOf(gql)).toEqual({ topUpCents: 1000, remainingCents: 500 });
    const [open] = (await stack.stripe.invoices.list({ customer: stripeCustomerId })).data;
    return { stripeCustomerId, gql, setting, invoiceId: open?.id as string, start: await available(gql) };
  }

  /** Paying the invoice now (the customer's late approval, or anyone's) is refused by Stripe: it is void. */
  async function expectUnpayable(invoiceId: string): Promise<void> {
    await expect(stack.stripe.invoices.pay(invoiceId)).rejects.toMatchObject({
      code: 'invoice_not_editable',
    });
  }

  it('voids the waiting invoice in Stripe when the customer turns automatic top-up off, giving its amount back', async () => {
    const account = 'acct_hostile2_3ds_off';
    const { stripeCustomerId, gql, setting, invoiceId, start } = await waitingTopUp(account);

    const off = await gql(SET_AUTO_TOP_UP, { input: { ...setting, enabled: false } });
    expect(off.errors).toBeUndefined();
    expect(off.data?.setAutoTopUp).toMatchObject({ enabled: false });
    expect(await invoicesOf(stripeCustomerId)).toEqual([['void', 1000]]);
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
    // Stripe's invoice.voided that follows gives nothing back twice; the late approval cannot pay it.
    await stack.flushWebhooks();
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
    await expectUnpayable(invoiceId);
    await stack.flushWebhooks();
    expect(await available(gql)).toBe(start);

    // Turned on again with a card that pays: one new pack, paid, granted once, counted once.
    await customerWithCard(stack, account, 'pm_card_visa');
    const on = await gql(SET_AUTO_TOP_UP, { input: setting });
    expect(on.data?.setAutoTopUp).toMatchObject({ enabled: true, lastFailure: null });
    await stack.flushWebhooks();
    expect(await invoicesOf(stripeCustomerId)).toEqual([
      ['paid', 1000],
      ['void', 1000],
    ]);
    expect(await available(gql)).toBe(start + 10_000);
    expect(await spendOf(gql)).toEqual({ topUpCents: 1000, remainingCents: 500 });
  });

  it('voids a waiting top-up that more than a hundred newer open invoices of the customer push off the first page', async () => {
    const { stripeCustomerId, gql, setting, invoiceId } = await waitingTopUp('acct_hostile2_3ds_many_open');
    // Stripe lists newest first, 100 at most a page: these put the top-up's invoice on the second page.
    for (let i = 0; i < 100; i++) {
      await stack.stripe.invoiceItems.create({ customer: stripeCustomerId, amount: 100, currency: 'usd' });
      const draft = await stack.stripe.invoices.create({
        customer: stripeCustomerId,
        collection_method: 'send_invoice',
        days_until_due: 30,
        pending_invoice_items_behavior: 'include',
        auto_advance: false,
      });
      await stack.stripe.invoices.finalizeInvoice(draft.id as string);
    }

    const off = await gql(SET_AUTO_TOP_UP, { input: { ...setting, enabled: false } });
    expect(off.errors).toBeUndefined();
    expect((await stack.stripe.invoices.retrieve(invoiceId)).status).toBe('void');
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
  });

  it('gives the amount back once when the waiting invoice is voided in Stripe (the Dashboard)', async () => {
    const { stripeCustomerId, gql, invoiceId, start } = await waitingTopUp('acct_hostile2_3ds_voided');
    await stack.stripe.invoices.voidInvoice(invoiceId);
    await stack.flushWebhooks();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['void', 1000]]);
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
    await expectUnpayable(invoiceId);
    expect(await available(gql)).toBe(start);
  });

  it('voids a waiting invoice marked uncollectible in Stripe, so that it is never paid late, and gives the amount back', async () => {
    const { stripeCustomerId, gql, invoiceId, start } = await waitingTopUp('acct_hostile2_3ds_bad_debt');
    await stack.stripe.invoices.markUncollectible(invoiceId);
    await stack.flushWebhooks();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['void', 1000]]);
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
    await expectUnpayable(invoiceId);
    expect(await available(gql)).toBe(start);
  });

  it('keeps a pack the customer approved just before the void: paid, granted once, still counted', async () => {
    const { stripeCustomerId, gql, setting, invoiceId, start } = await waitingTopUp('acct_hostile2_3ds_race');
    // The customer approves (pays) on the hosted page as the service is about to void the invoice it saw open.
    await stack.stripe.invoices.pay(invoiceId, { payment_method: 'pm_card_visa' });
    await stack.flushWebhooks();
    const stripe = stack.app.services.stripe?.stripe as StripeClient;
    expect((await voidUnpaidTopUp(stripe, invoiceId)).status).toBe('paid');
    const off = await gql(SET_AUTO_TOP_UP, { input: { ...setting, enabled: false } });
    expect(off.errors).toBeUndefined();
    await stack.flushWebhooks();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['paid', 1000]]);
    expect(await available(gql)).toBe(start + 10_000);
    expect(await spendOf(gql)).toEqual({ topUpCents: 1000, remainingCents: 500 });
  });

  it('voids a top-up whose bank asks to approve when the customer turned automatic top-up off while it was charged', async () => {
    const account = 'acct_hostile2_3ds_off_mid_charge';
    const stripeCustomerId = await customerWithCard(stack, account, 'pm_card_authenticationRequired');
    const gql = await stack.as(account);
    const limit = await gql('mutation { setSpendLimit(input: { monthlyCents: 1500 }) { monthlyCents } }');
    expect(limit.errors).toBeUndefined();
    const start = await available(gql);
    const setting = { enabled: true, belowCredits: start + 1, packKey: 'credits_10k' };
    // The customer turns it off while the charge runs, before its invoice exists: the off finds nothing to void.
    const purchases = stack.app.services.creditPurchases?.purchases;
    if (!purchases) throw new Error('no purchases');
    const original = purchases.purchase.bind(purchases);
    const spy = jest.spyOn(purchases, 'purchase').mockImplementationOnce(async (...args) => {
      const off = await gql(SET_AUTO_TOP_UP, { input: { ...setting, enabled: false } });
      expect(off.errors).toBeUndefined();
      return original(...args);
    });
    try {
      const on = await gql(SET_AUTO_TOP_UP, { input: setting });
      expect(on.errors).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    await stack.flushWebhooks();
    // Off is off: the pack it no longer wants is voided (never payable later), its $10.00 back in the limit.
    expect(await invoicesOf(stripeCustomerId)).toEqual([['void', 1000]]);
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
    expect(await available(gql)).toBe(start);
    const view = await gql<{ viewer: { autoTopUp: Record<string, unknown> } }>(
      '{ viewer { autoTopUp { enabled charging lastFailure } } }',
    );
    expect(view.data?.viewer.autoTopUp).toEqual({ enabled: false, charging: false, lastFailure: null });
    // No mail asking to approve a pack the customer turned off.
    const mails = await stack.app.orm.em
      .fork()
      .find(Notification, { accountId: account, kind: 'auto_top_up_failed' });
    expect(mails).toHaveLength(0);
  });

  it('grants nothing when the customer confirms the voided top-up’s payment intent (the 3-D Secure page) after the off', async () => {
    const { stripeCustomerId, gql, setting, invoiceId, start } =
      await waitingTopUp('acct_hostile2_3ds_pi_late');
    const waiting = await stack.stripe.invoices.retrieve(invoiceId, { expand: ['payments'] });
    const intent = waiting.payments?.data[0]?.payment.payment_intent;
    const paymentIntent = typeof intent === 'string' ? intent : String(intent?.id);
    const off = await gql(SET_AUTO_TOP_UP, { input: { ...setting, enabled: false } });
    expect(off.errors).toBeUndefined();
    // Voiding cancelled the invoice's payment intent: the bank's approval arriving now cannot confirm it.
    await expect(
      stack.stripe.paymentIntents.confirm(paymentIntent, { payment_method: 'pm_card_visa' }),
    ).rejects.toMatchObject({ type: 'StripeInvalidRequestError' });
    // Stripe redelivers the void; it gives nothing back twice and grants nothing.
    await stack.flushWebhooks();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['void', 1000]]);
    expect(
      (await stack.stripe.charges.list({ customer: stripeCustomerId })).data.map((c) => c.paid),
    ).not.toContain(true);
    expect(await available(gql)).toBe(start);
    expect(await spendOf(gql)).toEqual({ topUpCents: 0, remainingCents: 1500 });
  });

  it('leaves a waiting pack the customer bought by hand alone when automatic top-up is turned off', async () => {
    const account = 'acct_hostile2_3ds_manual';
    const stripeCustomerId = await customerWithCard(stack, account, 'pm_card_authenticationRequired');
    const gql = await stack.as(account);
    const bought = await gql<{ purchaseCredits: { status: string } }>(
      `mutation { purchaseCredits(input: { packKey: "credits_10k", idempotencyKey: "${randomUUID()}" }) { status } }`,
    );
    expect(bought.data?.purchaseCredits.status).toBe('REQUIRES_ACTION');
    const off = await gql(SET_AUTO_TOP_UP, {
      input: { enabled: false, belowCredits: 1000, packKey: 'credits_10k' },
    });
    expect(off.errors).toBeUndefined();
    expect(await invoicesOf(stripeCustomerId)).toEqual([['open', 1000]]);
  });
});

describe('a reservation’s idempotency key used again for another model call', () => {
  // The gateway passes a request id the user's client sent as its key (billing-rules row 103): the user chooses it.
  const COMMIT = `mutation($input: CommitUsageInput!) { commitUsage(input: $input) {
    duplicate credits { burned uncovered } } }`;
  const reserveAs = (
    account: string,
    key: string,
    inputTokens: number,
    extra: Record<string, unknown> = {},
  ) =>
    gateway<{ reserveUsage: { id: string; duplicate: boolean } }>(
      'mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id duplicate } }',
      {
        input: {
          accountId: account,
          model: 'claude-sonnet-4',
          inputTokens,
          maxOutputTokens: 0,
          idempotencyKey: key,
          ...extra,
        },
      },
    );
  const commitAs = (account: string, reservationId: string | undefined, inputTokens: number) =>
    gateway<{ commitUsage: { duplicate: boolean; credits: { burned: number } } }>(COMMIT, {
      input: { accountId: account, reservationId, inputTokens, outputTokens: 0 },
    });

  it('refuses the key of a committed call for a new, larger call, which would run and burn nothing', async () => {
    const account = 'acct_hostile2_key_reuse';
    await grant(account, 100_000);
    const gql = await stack.as(account);
    const small = await reserveAs(account, 'req-1', 1000); // 3 credits
    expect(small.errors).toBeUndefined();
    expect((await commitAs(account, small.data?.reserveUsage.id, 1000)).errors).toBeUndefined();
    const before = await available(gql);

    // 1,000,000 input tokens: 3,000 credits, under the old key.
    const big = await reserveAs(account, 'req-1', 1_000_000);
    expect(big.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
      field: 'idempotencyKey',
    });
    // Had it been answered, the call would run and its commit answer the first, burning nothing more.
    expect(await available(gql)).toBe(before);
  });

  it('refuses the key of a live call for another call, and still answers a retry of the same call', async () => {
    const account = 'acct_hostile2_key_live';
    await grant(account, 100_000);
    const first = await reserveAs(account, 'req-2', 1000);
    const retry = await reserveAs(account, 'req-2', 1000);
    expect(retry.data?.reserveUsage).toEqual({ id: first.data?.reserveUsage.id, duplicate: true });
    for (const other of [
      { inputTokens: 1_000_000 },
      { inputTokens: 1000, model: 'gpt-5-mini' },
      { inputTokens: 1000, maxOutputTokens: 4000 },
      { inputTokens: 1000, memberId: 'someone-else' },
    ]) {
      const answer = await reserveAs(account, 'req-2', other.inputTokens, other);
      expect(answer.errors?.[0]?.extensions).toMatchObject({
        code: 'CONFLICT',
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
    }
    // The first call's commit still burns what it used.
    const committed = await commitAs(account, first.data?.reserveUsage.id, 1000);
    expect(committed.data?.commitUsage).toMatchObject({ duplicate: false, credits: { burned: 3 } });
  });

  it('refuses the key of a released or expired call: its price and hold are not a new call’s', async () => {
    const account = 'acct_hostile2_key_spent';
    await grant(account, 100_000);
    const released = await reserveAs(account, 'req-3', 1000);
    const release = await gateway('mutation($input: ReleaseUsageInput!) { releaseUsage(input: $input) }', {
      input: { accountId: account, reservationId: released.data?.reserveUsage.id },
    });
    expect(release.errors).toBeUndefined();
    expect(codeOf(await reserveAs(account, 'req-3', 1000))).toBe('CONFLICT');

    const expiring = await reserveAs(account, 'req-4', 1000, { ttlSeconds: 1 });
    expect(expiring.errors).toBeUndefined();
    await stack.advanceClock(5);
    expect(codeOf(await reserveAs(account, 'req-4', 1000))).toBe('CONFLICT');
  });
});

function codeOf(answer: { errors?: Array<{ extensions?: Record<string, unknown> }> }): unknown {
  return answer.errors?.[0]?.extensions?.code;
}

describe('the spend limit over overage and automatic top-ups together', () => {
  /** A model call of claude-sonnet-4 output tokens (15,000 credits a million) as the gateway makes it. */
  async function reserveOutput(accountId: string, maxOutputTokens: number) {
    return gateway<{ reserveUsage: { id: string } }>(RESERVE, {
      input: { accountId, model: 'claude-sonnet-4', inputTokens: 0, maxOutputTokens },
    });
  }
  async function commitOutput(accountId: string, reservationId: string | undefined, outputTokens: number) {
    const answer = await gateway<{ commitUsage: { credits: Record<string, number> } }>(
      `mutation($input: CommitUsageInput!) { commitUsage(input: $input) {
        credits { credits burned uncovered billed } } }`,
      { input: { accountId, reservationId, inputTokens: 0, outputTokens } },
    );
    expect(answer.errors).toBeUndefined();
    return answer.data?.commitUsage.credits;
  }

  it('never bills past $15.00 in a period, to the cent on the invoices, nor bills overage a top-up covered', async () => {
    const olga = await world.customer('acct_hostile2_cap');
    expect((await olga.subscribe('starter')).errors).toBeUndefined();
    const period = await olga.period();
    const limit = await olga.gql(
      'mutation { setSpendLimit(input: { monthlyCents: 1500 }) { monthlyCents } }',
    );
    expect(limit.errors).toBeUndefined();
    const topUp = await olga.gql(SET_AUTO_TOP_UP, {
      input: { enabled: true, belowCredits: 1000, packKey: 'credits_10k' },
    });
    expect(topUp.errors).toBeUndefined();

    // 15,000 of the 20,000 included credits; then a call of 6,000 with 5,000 left: 1,000 held beyond the balance.
    const first = await reserveOutput(olga.accountId, 1_000_000);
    expect(await commitOutput(olga.accountId, first.data?.reserveUsage.id, 1_000_000)).toMatchObject({
      burned: 15_000,
      billed: 0,
    });
    const second = await reserveOutput(olga.accountId, 400_000);
    expect(second.errors).toBeUndefined();
    // Available 0: the top-up ($10.00, 1,000 ¢ + 120 ¢ held beyond the balance ≤ 1,500 ¢) is charged and granted;
    // the call's 6,000 are then all held from the balance (15,000), nothing beyond it.
    await waitUntil(async () => (await available(olga.gql)) === 9000, 'the pack is granted');
    // The pack now covers the call: nothing of it is billed as overage (the customer paid for those credits).
    expect(await commitOutput(olga.accountId, second.data?.reserveUsage.id, 400_000)).toEqual({
      credits: 6000,
      burned: 6000,
      uncovered: 0,
      billed: 0,
    });

    // 9,000 left and 500 ¢ of room: round(n × 0.12) ≤ 500 for n up to 4,170 credits beyond the balance.
    const tooMuch = await reserveOutput(olga.accountId, 2_000_000);
    expect(tooMuch.errors?.[0]?.extensions).toMatchObject({
      code: 'SPEND_LIMIT_REACHED',
      limitCents: 1500,
      available: 9000,
      requested: 30_000,
      overageRoom: 4170,
    });
    // Exactly what fits: 878,000 output tokens are 13,170 credits, 9,000 + 4,170 beyond the balance.
    const fits = await reserveOutput(olga.accountId, 878_000);
    expect(fits.errors).toBeUndefined();
    // Its fall below 1,000 would charge a second pack: 1,000 + 1,000 + 500 ¢ > 1,500 ¢, refused and turned off.
    await waitUntil(async () => {
      const view = await olga.gql<{
        viewer: { autoTopUp: { enabled: boolean; lastFailure: string | null } };
      }>('{ viewer { autoTopUp { enabled lastFailure } } }');
      return view.data?.viewer.autoTopUp.lastFailure === 'spend_limit_reached';
    }, 'the second top-up is refused');
    expect(await commitOutput(olga.accountId, fits.data?.reserveUsage.id, 878_000)).toEqual({
      credits: 13_170,
      burned: 9000,
      uncovered: 4170,
      billed: 4170,
    });
    const spend = await olga.gql<{ viewer: { spendLimit: Record<string, number> } }>(
      '{ viewer { spendLimit { spentCents overageCents topUpCents remainingCents } } }',
    );
    expect(spend.data?.viewer.spendLimit).toEqual({
      spentCents: 1500,
      overageCents: 500,
      topUpCents: 1000,
      remainingCents: 0,
    });

    // Stripe's invoices: one pack of $10.00, and the renewal's credits line of 4,170 × 0.12 ¢ = $5.00.
    await world.reportOverage();
    await world.advance(Math.ceil((period.end - period.start) / 1000) + FINALIZATION_GRACE);
    const invoices = await olga.invoices();
    const packs = invoices.filter((invoice) =>
      invoice.lines.some((line) => line.price === 'price_credits_10k'),
    );
    expect(packs.map((invoice) => [invoice.status, invoice.total])).toEqual([['paid', 1000]]);
    const renewal = lastInvoice(invoices, 'subscription_cycle');
    expect(linesOf(renewal, 'price_ai_credits_overage')).toEqual([[4170, 500]]);
    expect(renewal.total).toBe(1900 + 500);
  }, 120_000);

  /**
   * Row 107 on a plan that bills overage: a starter customer with `limitCents` buys a $10.00 pack, a call holds 27,000
   * (the 20,000 included credits and 7,000 of the pack), the pack is refunded in full in Stripe, and the call commits
   * what it held. Answers the commit's credits and the pack's payment intent.
   */
  async function refundUnderCall(customer: Customer, limitCents: number) {
    expect((await customer.subscribe('starter')).errors).toBeUndefined();
    const limit = await customer.gql(
      `mutation { setSpendLimit(input: { monthlyCents: ${limitCents} }) { monthlyCents } }`,
    );
    expect(limit.errors).toBeUndefined();
    const bought = await customer.gql<{ purchaseCredits: { status: string; invoiceId: string } }>(
      `mutation { purchaseCredits(input: { packKey: "credits_10k", idempotencyKey: "${randomUUID()}" }) {
        status invoiceId } }`,
    );
    expect(bought.data?.purchaseCredits.status).toBe('PAID');
    expect(await available(customer.gql)).toBe(30_000);
    const call = await reserveOutput(customer.accountId, 1_800_000);
    expect(call.errors).toBeUndefined();
    const invoice = await stack.stripe.invoices.retrieve(bought.data?.purchaseCredits.invoiceId as string, {
      expand: ['payments'],
    });
    const intent = invoice.payments?.data[0]?.payment.payment_intent;
    const paymentIntent = typeof intent === 'string' ? intent : String(intent?.id);
    await stack.stripe.refunds.create({ payment_intent: paymentIntent });
    await stack.flushWebhooks();
    const balance = await customer.gql<{ viewer: { balance: Record<string, number> } }>(
      '{ viewer { balance { credits held available } } }',
    );
    // The refund took the pack's 10,000, the 7,000 held ones included: nothing is available until the commit.
    expect(balance.data?.viewer.balance).toEqual({ credits: 20_000, held: 27_000, available: 0 });
    const committed = await commitOutput(customer.accountId, call.data?.reserveUsage.id, 1_800_000);
    return { committed, paymentIntent };
  }

  async function spendOf(customer: Customer) {
    const spend = await customer.gql<{ viewer: { spendLimit: Record<string, number> } }>(
      '{ viewer { spendLimit { spentCents overageCredits overageCents topUpCents remainingCents } } }',
    );
    return spend.data?.viewer.spendLimit;
  }

  it('row 107: bills a pack refunded under a live call, on a plan with overage, exactly the uncovered credits’ overage', async () => {
    // Room for all of it ($20.00), and a limit it passes ($5.00: 4,170 credits).
    const rita = await world.customer('acct_hostile2_refund_held');
    const rolf = await world.customer('acct_hostile2_refund_capped');
    const roomy = await refundUnderCall(rita, 2000);
    const capped = await refundUnderCall(rolf, 500);
    // The 7,000 of the pack the call used are overage now: billed in full, or as far as the limit leaves room.
    expect(roomy.committed).toEqual({ credits: 27_000, burned: 20_000, uncovered: 7000, billed: 7000 });
    expect(capped.committed).toEqual({ credits: 27_000, burned: 20_000, uncovered: 7000, billed: 4170 });
    expect(await spendOf(rita)).toEqual({
      spentCents: 840,
      overageCredits: 7000,
      overageCents: 840,
      topUpCents: 0,
      remainingCents: 1160,
    });
    expect(await spendOf(rolf)).toEqual({
      spentCents: 500,
      overageCredits: 4170,
      overageCents: 500,
      topUpCents: 0,
      remainingCents: 0,
    });

    // Stripe: each pack paid and refunded in full; the renewal bills 7,000 × 0.12 ¢ = $8.40 (4,170: $5.00) beside
    // the $19.00 fee; no other invoice bills the refunded credits.
    const period = await rita.period();
    await world.reportOverage();
    await world.advance(Math.ceil((period.end - period.start) / 1000) + FINALIZATION_GRACE);
    for (const [customer, { paymentIntent }, credits, cents] of [
      [rita, roomy, 7000, 840],
      [rolf, capped, 4170, 500],
    ] as const) {
      const invoices = await customer.invoices();
      const charges = await stack.stripe.charges.list({ payment_intent: paymentIntent });
      expect(charges.data.map((one) => [one.amount, one.amount_refunded])).toEqual([[1000, 1000]]);
      const renewal = lastInvoice(invoices, 'subscription_cycle');
      expect(linesOf(renewal, 'price_ai_credits_overage')).toEqual([[credits, cents]]);
      expect(invoices.map((one) => [one.status, one.total])).toEqual([
        ['paid', 1900],
        ['paid', 1000],
        ['paid', 1900 + cents],
      ]);
    }
  }, 120_000);
});
