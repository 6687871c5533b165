import { CreditLowBalanceAlert, Notification } from '../../src/entities';
import type { LowBalanceState } from '../../src/services/credits/low-balance-alerts';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { createCustomer, createSubscription } from '../support/factories';

/**
 * The low-balance mail (issue 17, docs/billing-rules.md row 80): below its threshold an account's customer is mailed
 * once per crossing, armed again when the credits are back at or above it, never twice for one fall however many
 * changes see it at once; by default 20 % of the plan's included credits; none while automatic top-up covers it.
 * Real PostgreSQL, the emulator and the service's own ledger, whose committed changes run the check.
 */
describe('low-balance mail', () => {
  let stack: BillingStack;
  let sequence = 0;

  beforeAll(async () => {
    stack = await startBillingStack({ RATE_LIMIT_ENABLED: 'false' });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();
  const credits = () => stack.app.services.credits;
  const SET =
    'mutation($input: SetLowBalanceAlertInput!) { setLowBalanceAlert(input: $input) { belowCredits isDefault } }';
  const VIEW = '{ viewer { lowBalanceAlert { belowCredits isDefault } } }';

  /** Every check the ledger's changes started, so a test can wait for all of them to finish (none is lost). */
  let checks: jest.SpyInstance<Promise<void>, [string, number, LowBalanceState?]>;
  beforeEach(() => {
    checks = jest.spyOn(credits().lowBalanceAlerts, 'afterBalanceChange');
  });
  afterEach(() => checks.mockRestore());
  const checked = async () => {
    await Promise.all(checks.mock.results.map((result) => result.value));
  };

  /** An account with a billing email (the mail's recipient) and no subscription: the free plan, 1,000 included. */
  async function newAccount(): Promise<string> {
    const fork = em();
    const customer = createCustomer(fork, { accountId: `acct_low_balance_${++sequence}_${Date.now()}` });
    await fork.flush();
    return customer.accountId;
  }

  const grant = (accountId: string, amount: number, id: string) =>
    credits().ledger.grant({
      accountId,
      kind: 'grant',
      credits: amount,
      expiresAt: null,
      reason: 'test',
      source: { type: 'admin', id },
      actor: 'admin:test',
    });
  const burn = (accountId: string, amount: number, id: string) =>
    credits().ledger.burn({
      accountId,
      credits: amount,
      source: { type: 'usage', id },
      reason: 'model calls',
    });
  const mails = (accountId: string) =>
    em().find(Notification, { accountId, kind: 'low_balance' }, { orderBy: { dedupeKey: 'asc' } });

  it('mails once when the available credits fall below the threshold, and again only after they were back', async () => {
    const accountId = await newAccount();
    await grant(accountId, 1000, 'start');
    await credits().lowBalanceAlerts.set(accountId, 500);

    await burn(accountId, 400, 'burn-1'); // 600: above
    await checked();
    expect(await mails(accountId)).toHaveLength(0);

    await burn(accountId, 200, 'burn-2'); // 400: crossed
    await checked();
    await burn(accountId, 50, 'burn-3'); // 350: still below, no second mail
    const hold = await credits().ledger.hold({
      accountId,
      credits: 100,
      holdId: crypto.randomUUID(),
      ttlSeconds: 60,
    });
    expect(hold.ok).toBe(true); // 250 available: a hold counts too, still no second mail
    await checked();
    const first = await mails(accountId);
    expect(first.map((mail) => [mail.recipient, mail.data])).toEqual([
      [expect.stringMatching(/@example\.com$/), { available: 400, belowCredits: 500, crossing: 1 }],
    ]);

    // 500 is "back at the threshold": armed again, and the next fall below is a second crossing.
    await grant(accountId, 250, 'back'); // 500 available (100 held)
    await checked();
    expect(await mails(accountId)).toHaveLength(1);
    await burn(accountId, 1, 'burn-4'); // 499
    await checked();
    expect((await mails(accountId)).map((mail) => mail.data)).toEqual([
      { available: 400, belowCredits: 500, crossing: 1 },
      { available: 499, belowCredits: 500, crossing: 2 },
    ]);
  });

  it('mails exactly once when many changes see the fall at the same moment', async () => {
    const accountId = await newAccount();
    await grant(accountId, 1000, 'start');
    await credits().lowBalanceAlerts.set(accountId, 800);
    // 40 burns of 10 at once: the balance passes 800 on the 21st, and every later burn sees it below too.
    await Promise.all(Array.from({ length: 40 }, (_, n) => burn(accountId, 10, `burn-${n}`)));
    await checked();
    // Burns are group commits (ADR 0028): one check per account per group, with the figures the group ended with.
    expect(checks.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(checks.mock.calls.length).toBeLessThan(40);
    // And the claim itself, raced directly by 20 callers at a fresh crossing.
    await grant(accountId, 1000, 'back');
    await checked();
    await Promise.all(
      Array.from({ length: 20 }, () => credits().lowBalanceAlerts.afterBalanceChange(accountId, 100)),
    );
    const sent = await mails(accountId);
    expect(sent.map((mail) => (mail.data as { crossing: number }).crossing)).toEqual([1, 2]);
    expect(sent[0]?.data).toMatchObject({ belowCredits: 800 });
  });

  it('defaults to 20 % of the plan’s included credits, and is off on a plan that includes none', async () => {
    const accountId = await newAccount();
    await credits().included.ensure(accountId); // the free plan's 1,000 for this period
    const gql = await stack.as(accountId);
    expect((await gql(VIEW)).data).toEqual({
      viewer: { lowBalanceAlert: { belowCredits: 200, isDefault: true } },
    });
    await burn(accountId, 800, 'burn-1'); // 200: at the threshold, not below
    await checked();
    expect(await mails(accountId)).toHaveLength(0);
    await burn(accountId, 1, 'burn-2'); // 199
    await checked();
    expect((await mails(accountId)).map((mail) => mail.data)).toEqual([
      { available: 199, belowCredits: 200, crossing: 1 },
    ]);

    // Enterprise includes no credits: no default, no mail, however low the balance goes.
    const fork = em();
    const enterprise = createCustomer(fork, { accountId: `acct_low_balance_enterprise_${Date.now()}` });
    createSubscription(fork, enterprise, { planKey: 'enterprise' });
    await fork.flush();
    await credits().included.ensure(enterprise.accountId);
    const asEnterprise = await stack.as(enterprise.accountId);
    expect((await asEnterprise(VIEW)).data).toEqual({
      viewer: { lowBalanceAlert: { belowCredits: null, isDefault: true } },
    });
    await grant(enterprise.accountId, 100, 'contract');
    await burn(enterprise.accountId, 100, 'all');
    await checked();
    expect(await mails(enterprise.accountId)).toHaveLength(0);
  });

  it('sends none while automatic top-up is on at or above the threshold (it covers the fall)', async () => {
    const accountId = await newAccount();
    await grant(accountId, 1000, 'start');
    await credits().lowBalanceAlerts.set(accountId, 500);
    // Automatic top-up at 600, its charge held as running: it covers the fall, and charges nothing here.
    await em()
      .getConnection()
      .execute(
        `insert into credit_auto_top_up (account_id, enabled, below_credits, pack_key, armed, charging_since, updated_at)
         values (?, true, 600, 'credits_10k', false, now(), now())`,
        [accountId],
      );
    await burn(accountId, 600, 'burn-1'); // 400
    await checked();
    expect(await mails(accountId)).toHaveLength(0);
    // The crossing was still taken: turning automatic top-up off below the threshold does not mail for this fall.
    expect(await em().findOne(CreditLowBalanceAlert, { accountId })).toMatchObject({ armed: false });

    // Automatic top-up below the threshold (300 < 500) does not cover it: back above, then below, the mail comes.
    await em()
      .getConnection()
      .execute('update credit_auto_top_up set below_credits = 300 where account_id = ?', [accountId]);
    await grant(accountId, 200, 'back'); // 600
    await checked(); // armed again before the next fall is seen (checks run beside the changes, not in order)
    await burn(accountId, 200, 'burn-2'); // 400
    await checked();
    expect((await mails(accountId)).map((mail) => mail.data)).toEqual([
      { available: 400, belowCredits: 500, crossing: 2 },
    ]);
  });

  describe('setLowBalanceAlert and viewer.lowBalanceAlert', () => {
    it('sets the caller’s own threshold, turns it off with null or 0, and mails at once when already below', async () => {
      const accountId = await newAccount();
      await grant(accountId, 300, 'start');
      const gql = await stack.as(accountId);
      const set = await gql(SET, { input: { belowCredits: 2000 } });
      expect(set.errors).toBeUndefined();
      expect(set.data).toEqual({ setLowBalanceAlert: { belowCredits: 2000, isDefault: false } });
      expect((await gql(VIEW)).data).toEqual({
        viewer: { lowBalanceAlert: { belowCredits: 2000, isDefault: false } },
      });
      // 1,300 available (the free plan's 1,000 of this period and the 300), below the new 2,000: setting it while
      // below is a crossing (as for automatic top-up), mailed before the answer.
      expect((await mails(accountId)).map((mail) => mail.data)).toEqual([
        { available: 1300, belowCredits: 2000, crossing: 1 },
      ]);

      for (const off of [null, 0]) {
        const answer = await gql(SET, { input: { belowCredits: off } });
        expect(answer.data).toEqual({ setLowBalanceAlert: { belowCredits: null, isDefault: false } });
      }
      await burn(accountId, 300, 'all');
      await checked();
      expect(await mails(accountId)).toHaveLength(1);
    });

    it('refuses a threshold that is not a whole number from 0 to 10^9, changing nothing', async () => {
      const accountId = await newAccount();
      const gql = await stack.as(accountId);
      for (const belowCredits of [-1, 1_000_000_001]) {
        const answer = await gql(SET, { input: { belowCredits } });
        expect(answer.errors?.[0]?.extensions).toMatchObject({
          code: 'BAD_USER_INPUT',
          field: 'belowCredits',
        });
      }
      const fraction = await gql(SET, { input: { belowCredits: 1.5 } });
      expect(fraction.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await em().findOne(CreditLowBalanceAlert, { accountId })).toBeNull();
    });

    it('changes only the caller’s own account; another account’s threshold is not readable', async () => {
      const [own, other] = [await newAccount(), await newAccount()];
      await credits().included.ensure(other);
      const asOwn = await stack.as(own);
      expect((await asOwn(SET, { input: { belowCredits: 42 } })).errors).toBeUndefined();
      expect(await em().findOne(CreditLowBalanceAlert, { accountId: other })).toBeNull();
      const asOther = await stack.as(other);
      expect((await asOther(VIEW)).data).toEqual({
        viewer: { lowBalanceAlert: { belowCredits: 200, isDefault: true } },
      });
      const foreign = await asOther(`{ account(id: "${own}") { lowBalanceAlert { belowCredits } } }`);
      expect(foreign.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const anonymous = await stack.graphql(SET, { variables: { input: { belowCredits: 1 } } });
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });
});
