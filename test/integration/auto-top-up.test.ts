import { BillingCustomer, Notification } from '../../src/entities';
import { customerWithCard } from '../support/stripe-customer';
import { type BillingStack, type GraphQLCaller, startBillingStack } from '../support/billing-stack';
import { waitUntil } from '../support/wait';

/**
 * Automatic top-up (issue 17, item 2; docs/billing-rules.md row 75): below its threshold, an account's chosen pack is
 * charged to its saved card off-session, as a Stripe invoice, once per crossing, never twice at once; a decline turns
 * it off and mails the customer. Real emulator, PostgreSQL and the service's own purchase path.
 */
describe('automatic top-up', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({}, { webhooks: true });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();
  const ledger = () => stack.app.services.credits.ledger;
  const SET = `mutation($input: SetAutoTopUpInput!) { setAutoTopUp(input: $input) { enabled belowCredits packKey charging lastFailure } }`;

  async function packInvoices(stripeCustomerId: string) {
    const invoices = await stack.stripe.invoices.list({ customer: stripeCustomerId, limit: 100 });
    return invoices.data.map((invoice) => [invoice.status, invoice.total]);
  }

  async function autoTopUp(accountId: string) {
    const answer = await (await stack.as(accountId))<{
      viewer: { autoTopUp: { enabled: boolean; charging: boolean; lastFailure: string | null } | null };
    }>('{ viewer { autoTopUp { enabled charging lastFailure } } }');
    return answer.data?.viewer.autoTopUp;
  }

  const available = async (accountId: string) => (await ledger().balanceOf(accountId)).available;

  /** Caps what the account may spend beyond its plan this period (the mutation must succeed). */
  async function setSpendLimit(gql: GraphQLCaller, monthlyCents: number): Promise<void> {
    const answer = await gql(
      `mutation { setSpendLimit(input: { monthlyCents: ${monthlyCents} }) { monthlyCents } }`,
    );
    expect(answer.errors).toBeUndefined();
  }

  /** This period's automatic top-ups counted against the spend limit, as the customer reads them. */
  async function topUpCents(gql: GraphQLCaller): Promise<number | undefined> {
    const spend = await gql<{ viewer: { spendLimit: { topUpCents: number } } }>(
      '{ viewer { spendLimit { topUpCents } } }',
    );
    return spend.data?.viewer.spendLimit.topUpCents;
  }

  /** Turns auto top-up on with the threshold just above the balance: the first use crosses it. */
  async function enableAboveBalance(gql: GraphQLCaller, accountId: string): Promise<number> {
    const start = await available(accountId);
    const set = await gql(SET, { input: { enabled: true, belowCredits: start + 1, packKey: 'credits_10k' } });
    expect(set.errors).toBeUndefined();
    return start;
  }

  async function untilPackGranted(accountId: string, start: number): Promise<void> {
    await waitUntil(async () => (await available(accountId)) === start + 10_000, 'the pack is granted');
    await waitUntil(async () => (await autoTopUp(accountId))?.charging === false, 'the charge is over');
  }

  it('charges the pack once per crossing: below the threshold, again only after the balance was back above it', async () => {
    const accountId = 'acct_auto_top_up';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_visa');
    const start = await available(accountId);
    await ledger().grant({
      accountId,
      kind: 'grant',
      credits: 6000,
      expiresAt: null,
      reason: 'test',
      source: { type: 'admin', id: 'auto-top-up-start' },
      actor: 'admin:test',
    });
    const set = await (await stack.as(accountId))(SET, {
      input: { enabled: true, belowCredits: start + 5000, packKey: 'credits_10k' },
    });
    expect(set.errors).toBeUndefined();
    expect(await packInvoices(stripeCustomerId)).toEqual([]);

    // 2,000 used: 4,000 above the start, below the threshold of 5,000: one pack, $10.00, on one paid invoice.
    const burns = [1, 2, 3].map((n) =>
      ledger().burn({
        accountId,
        credits: n === 1 ? 2000 : 10,
        source: { type: 'usage', id: `burn-${n}` },
        reason: 'model calls',
      }),
    );
    await Promise.all(burns);
    await waitUntil(
      async () => (await available(accountId)) === start + 6000 - 2020 + 10_000,
      'the pack is granted',
    );
    await waitUntil(async () => (await autoTopUp(accountId))?.charging === false, 'the charge is over');
    expect(await packInvoices(stripeCustomerId)).toEqual([['paid', 1000]]);

    // Above the threshold again (13,980 more than the start): used down below it, a second crossing, a second pack.
    await ledger().burn({
      accountId,
      credits: 9000,
      source: { type: 'usage', id: 'burn-4' },
      reason: 'model calls',
    });
    await waitUntil(
      async () => (await packInvoices(stripeCustomerId)).length === 2,
      'the second pack is charged',
    );
    await waitUntil(async () => (await autoTopUp(accountId))?.charging === false, 'the charge is over');
    expect(await available(accountId)).toBe(start + 6000 - 2020 - 9000 + 20_000);
    expect(await autoTopUp(accountId)).toEqual({ enabled: true, charging: false, lastFailure: null });
  });

  it('a declined card turns it off, says why, charges nothing and mails the customer once', async () => {
    const accountId = 'acct_auto_top_up_declined';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_chargeCustomerFail');
    const start = await available(accountId);
    const set = await (await stack.as(accountId))(SET, {
      input: { enabled: true, belowCredits: start + 1, packKey: 'credits_10k' },
    });
    expect(set.errors).toBeUndefined();
    await waitUntil(async () => (await autoTopUp(accountId))?.enabled === false, 'auto top-up is turned off');
    expect(await autoTopUp(accountId)).toEqual({
      enabled: false,
      charging: false,
      lastFailure: 'generic_decline',
    });
    expect(await available(accountId)).toBe(start);
    expect((await packInvoices(stripeCustomerId)).map(([status]) => status)).toEqual(['void']);
    await stack.flushWebhooks();
    // One mail, the auto top-up's: the invoice's own failure (`invoice.payment_failed`) sends no second one.
    const mails = await em().find(Notification, { accountId }, { orderBy: { createdAt: 'asc' } });
    expect(mails.map((mail) => mail.kind)).toEqual(['auto_top_up_failed']);
    expect(mails[0]?.recipient).toBe(`${accountId}@example.com`);
    // Turned off, a later fall below charges nothing.
    await ledger().burn({
      accountId,
      credits: 1,
      source: { type: 'usage', id: 'declined-burn' },
      reason: 'model calls',
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await packInvoices(stripeCustomerId)).length).toBe(1);
  });

  it('a card asking to approve turns it off with one mail, the auto top-up’s, carrying the page to approve on', async () => {
    const accountId = 'acct_auto_top_up_approval';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_authenticationRequired');
    const start = await available(accountId);
    const set = await (await stack.as(accountId))(SET, {
      input: { enabled: true, belowCredits: start + 1, packKey: 'credits_10k' },
    });
    expect(set.errors).toBeUndefined();
    await waitUntil(async () => (await autoTopUp(accountId))?.enabled === false, 'auto top-up is turned off');
    expect((await autoTopUp(accountId))?.lastFailure).toBe('authentication_required');
    expect((await packInvoices(stripeCustomerId)).map(([status]) => status)).toEqual(['open']);
    await stack.flushWebhooks();
    // Not also the invoice's own `payment_action_required` mail (nor `payment_failed`).
    const mails = await em().find(Notification, { accountId });
    expect(mails.map((mail) => mail.kind)).toEqual(['auto_top_up_failed']);
    expect(mails[0]?.data).toMatchObject({
      reason: 'authentication_required',
      hostedInvoiceUrl: expect.any(String),
    });
  });

  it('charges nothing past the spend limit: a pack that would pass it turns auto top-up off and says so', async () => {
    const accountId = 'acct_auto_top_up_limited';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_visa');
    const gql = await stack.as(accountId);
    // $5.00 may be spent beyond the plan this period; the pack is $10.00.
    await setSpendLimit(gql, 500);
    const start = await enableAboveBalance(gql, accountId);
    await waitUntil(async () => (await autoTopUp(accountId))?.enabled === false, 'auto top-up is turned off');
    expect(await autoTopUp(accountId)).toEqual({
      enabled: false,
      charging: false,
      lastFailure: 'spend_limit_reached',
    });
    expect(await packInvoices(stripeCustomerId)).toEqual([]);
    expect(await available(accountId)).toBe(start);
    const mails = await em().find(Notification, { accountId, kind: 'auto_top_up_failed' });
    expect(mails.map((mail) => mail.data)).toEqual([
      expect.objectContaining({ reason: 'spend_limit_reached' }),
    ]);
    expect(await topUpCents(gql)).toBe(0);
  });

  it('a charge resumed after a stopped process claims its pack against the spend limit once', async () => {
    const accountId = 'acct_auto_top_up_resumed';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_visa');
    const gql = await stack.as(accountId);
    // $15.00 may be spent beyond the plan: one $10.00 pack fits, two do not.
    await setSpendLimit(gql, 1500);
    const start = await enableAboveBalance(gql, accountId);
    await untilPackGranted(accountId, start);

    // The process stopped after Stripe charged and before it said so: its claim is left, stale, and resumed (the
    // same attempt: Stripe answers the first charge). The pack was counted once already.
    await em()
      .getConnection()
      .execute('update credit_auto_top_up set charging_since = ? where account_id = ?', [
        new Date(stack.app.clock.now().getTime() - 11 * 60 * 1000),
        accountId,
      ]);
    await stack.app.services.creditPurchases?.autoTopUps.resumeStale();
    expect(await autoTopUp(accountId)).toEqual({ enabled: true, charging: false, lastFailure: null });
    expect(await packInvoices(stripeCustomerId)).toEqual([['paid', 1000]]);
    expect(await available(accountId)).toBe(start + 10_000);
    expect(await topUpCents(gql)).toBe(1000);
  });

  it('claims a euro-area customer’s first pack in the currency it is charged in (€9.00, not $10.00)', async () => {
    const accountId = 'acct_auto_top_up_euro_first';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_visa');
    // A German billing address and nothing paid yet: no currency kept, so the sale chooses EUR by country.
    await stack.stripe.customers.update(stripeCustomerId, {
      address: { line1: 'Unter den Linden 1', city: 'Berlin', postal_code: '10117', country: 'DE' },
    });
    await stack.flushWebhooks();
    await waitUntil(
      async () => (await em().findOneOrFail(BillingCustomer, { accountId })).address?.country === 'DE',
      'the address is stored',
    );
    const gql = await stack.as(accountId);
    // €9.50 may be spent beyond the plan: the €9.00 pack fits (claimed as $10.00 it would not).
    await setSpendLimit(gql, 950);
    const start = await enableAboveBalance(gql, accountId);
    await untilPackGranted(accountId, start);
    const invoices = await stack.stripe.invoices.list({ customer: stripeCustomerId, limit: 10 });
    expect(invoices.data.map((invoice) => [invoice.status, invoice.currency, invoice.total])).toEqual([
      ['paid', 'eur', 900],
    ]);
    expect(await topUpCents(gql)).toBe(900);
    expect(await autoTopUp(accountId)).toEqual({ enabled: true, charging: false, lastFailure: null });
  });

  it('never charges nor claims a pack that has no amount in the account’s currency (0 ¢): refused, said why', async () => {
    const accountId = 'acct_auto_top_up_unpriced';
    const stripeCustomerId = await customerWithCard(stack, accountId, 'pm_card_visa');
    const gql = await stack.as(accountId);
    await setSpendLimit(gql, 5000);
    await ledger().grant({
      accountId,
      kind: 'grant',
      credits: 100,
      expiresAt: null,
      reason: 'test',
      source: { type: 'admin', id: 'auto-top-up-unpriced' },
      actor: 'admin:test',
    });
    const start = await available(accountId);
    const set = await gql(SET, {
      input: { enabled: true, belowCredits: start - 50, packKey: 'credits_10k' },
    });
    expect(set.errors).toBeUndefined();
    // The account pays in a currency the pack has no amount in (a customer Stripe knew before, a catalog that
    // dropped the currency): setting it is refused, and a crossing charges nothing, claims nothing and says why.
    const setCurrency = (currency: string) =>
      em()
        .getConnection()
        .execute('update billing_customer set currency = ? where account_id = ?', [currency, accountId]);
    await setCurrency('gbp');
    const refused = await gql(SET, { input: { enabled: true, belowCredits: 10, packKey: 'credits_10k' } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'packKey' });
    await ledger().burn({
      accountId,
      credits: 60,
      source: { type: 'usage', id: 'unpriced-1' },
      reason: 'calls',
    });
    await waitUntil(async () => (await autoTopUp(accountId))?.enabled === false, 'auto top-up is turned off');
    expect(await autoTopUp(accountId)).toEqual({
      enabled: false,
      charging: false,
      lastFailure: 'pack_not_sold_in_currency',
    });
    await setCurrency('usd');
    expect(await packInvoices(stripeCustomerId)).toEqual([]);
    const claims = await em()
      .getConnection()
      .execute('select * from credit_top_up_claim where account_id = ?', [accountId]);
    expect(claims).toEqual([]);
    expect(await topUpCents(gql)).toBe(0);
  });

  it('refuses an unknown pack or threshold, writing nothing', async () => {
    const gql = await stack.as('acct_auto_top_up_refused');
    const unknownPack = await gql(SET, {
      input: { enabled: true, belowCredits: 100, packKey: 'credits_1m' },
    });
    expect(unknownPack.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const zero = await gql(SET, { input: { enabled: true, belowCredits: 0, packKey: 'credits_10k' } });
    expect(zero.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await autoTopUp('acct_auto_top_up_refused')).toBeNull();
  });
});
