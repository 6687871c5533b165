/**
 * Journey: AI credits on the billing page (docs/credits.md). Support grants credits with an expiry; the page shows
 * the balance, what expires and the ledger entry without a reload (`balanceUpdated`). A pack bought on Checkout comes
 * back as credits on the page, and a second tab left open sees the balance move.
 */
import { describeJourney, markPage, payOnCheckoutPage, subscribeToStarter, waitForText } from './journey';

const GRANT = `mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { credits duplicate } }`;

describeJourney('journey: AI credits', (journey) => {
  it('shows a grant live: the balance, what expires soon, and the ledger entry', async () => {
    const accountId = 'acct_journey_credits';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await page.waitForSelector('#credits');
    // The free plan's 1,000 included credits of the month, granted when the page first reads the balance.
    await waitForText(page, '#credits-available', /^1,000$/);
    const notReloaded = await markPage(page);

    const admin = await journey.stack.as('acct_journey_support', ['admin']);
    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const granted = await admin(GRANT, {
      input: {
        accountId,
        credits: 2500,
        expiresAt,
        reason: 'Welcome credits',
        idempotencyKey: 'journey-credits-welcome',
      },
    });
    expect(granted.errors).toBeUndefined();

    await waitForText(page, '#credits-available', /^3,500$/);
    await waitForText(page, '#credits-expiring', /^2,500 expire [A-Z][a-z]{2} \d{1,2}, \d{4}$/);
    await waitForText(page, '#credit-ledger', /Granted \+2,500 Welcome credits/);
    expect(await notReloaded()).toBe(true);
    await journey.screenshot(page, 'credits-granted');
  }, 120_000);

  it('buys a pack on Checkout: $10.00 paid, 10,000 credits on the page, and live in another tab', async () => {
    const accountId = 'acct_journey_credits_pack';
    const watching = await journey.newPage();
    await journey.signUp(watching, accountId);
    await waitForText(watching, '#credits-available', /^[\d,]+$/);
    const before = Number((await watching.textContent('#credits-available'))?.replaceAll(',', ''));
    const notReloaded = await markPage(watching);

    const buying = await journey.newPage();
    await journey.signUp(buying, accountId);
    await Promise.all([buying.waitForURL(/\/checkout\/pay\/cs_/), buying.click('#buy-pack-credits_10k')]);
    expect(await buying.textContent('body')).toContain('$10.00');
    await payOnCheckoutPage(buying);
    await buying.waitForURL(/\/billing\/($|\?)/);
    await waitForText(buying, '#checkout-result', /Your credits appear below/);
    await journey.stack.flushWebhooks();
    const after = (before + 10_000).toLocaleString('en-US');
    await waitForText(buying, '#credits-available', new RegExp(`^${after}$`));
    await waitForText(watching, '#credits-available', new RegExp(`^${after}$`));
    await waitForText(watching, '#credit-ledger', /Bought \+10,000/);
    expect(await notReloaded()).toBe(true);
    await journey.screenshot(buying, 'credits-pack-bought');
  }, 120_000);

  it('tops up automatically on a burst of model calls: one pack, charged once, the balance moving live', async () => {
    const accountId = 'acct_journey_credits_auto';
    // A saved card, as a subscription's Checkout leaves one.
    const stripeServices = journey.stack.app.services.stripe;
    if (!stripeServices) throw new Error('the journey has Stripe');
    const customer = await stripeServices.customers.ensure(journey.stack.app.orm.em.fork(), {
      accountId,
      email: `${accountId}@example.com`,
    });
    const card = await journey.stack.stripe.paymentMethods.attach('pm_card_visa', {
      customer: customer.stripeCustomerId as string,
    });
    await journey.stack.stripe.customers.update(customer.stripeCustomerId as string, {
      invoice_settings: { default_payment_method: card.id },
    });
    const { ledger, included } = journey.stack.app.services.credits;
    // The month's included credits are granted on the first read: counted in the start.
    await included.ensure(accountId);
    const start = (await ledger.balanceOf(accountId)).available;
    await ledger.grant({
      accountId,
      kind: 'grant',
      credits: 6000,
      expiresAt: null,
      reason: 'Welcome credits',
      source: { type: 'admin', id: 'journey-auto-top-up' },
      actor: 'admin:journey',
    });

    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await waitForText(page, '#credits-available', new RegExp(`^${(start + 6000).toLocaleString('en-US')}$`));
    await page.check('#auto-top-up-enabled');
    await page.fill('#auto-top-up-below', String(start + 5000));
    await page.selectOption('#auto-top-up-pack', 'credits_10k');
    await page.click('#auto-top-up-save');
    await page.waitForSelector('#auto-top-up-enabled:checked');
    const notReloaded = await markPage(page);

    // A burst: 20 calls of 100 credits at once take the balance 1,000 below the threshold.
    await Promise.all(
      Array.from({ length: 20 }, (_, call) =>
        ledger.burn({
          accountId,
          credits: 100,
          source: { type: 'usage', id: `journey-burst-${call}` },
          reason: 'model call',
        }),
      ),
    );
    const after = (start + 6000 - 2000 + 10_000).toLocaleString('en-US');
    await waitForText(page, '#credits-available', new RegExp(`^${after}$`));
    await waitForText(page, '#credit-ledger', /Bought \+10,000/);
    const invoices = await journey.stack.stripe.invoices.list({
      customer: customer.stripeCustomerId as string,
    });
    expect(invoices.data.map((invoice) => [invoice.status, invoice.total])).toEqual([['paid', 1000]]);
    expect(await notReloaded()).toBe(true);
    await journey.screenshot(page, 'credits-auto-top-up');
  }, 120_000);

  it('a member reaches their monthly limit while the account still has credits: refused, and the page shows it', async () => {
    const accountId = 'acct_journey_credits_member';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await page.waitForSelector('#credits');
    const customer = await journey.stack.as(accountId);
    const limit = await customer(
      'mutation { setMemberLimit(input: { memberId: "dev-ada", monthlyCredits: 40 }) { monthlyCredits } }',
    );
    expect(limit.errors).toBeUndefined();

    // The AI gateway reserves and commits model calls for the member (claude-haiku-4: 1,000 credits per million
    // input tokens, 5,000 per million output: 4,000 in + 4,000 out = 24 credits each).
    const gateway = await journey.stack.as('svc_journey_gateway', ['service']);
    const call = async () => {
      const reserved = await gateway<{ reserveUsage: { id: string } }>(
        `mutation { reserveUsage(input: { accountId: "${accountId}", model: "claude-haiku-4", inputTokens: 4000, maxOutputTokens: 4000, memberId: "dev-ada" }) { id } }`,
      );
      const id = reserved.data?.reserveUsage.id;
      if (id) {
        const committed = await gateway(
          `mutation { commitUsage(input: { accountId: "${accountId}", reservationId: "${id}", inputTokens: 4000, outputTokens: 4000 }) { duplicate } }`,
        );
        expect(committed.errors).toBeUndefined();
      }
      return reserved.errors?.[0]?.extensions ?? null;
    };
    expect(await call()).toBeNull();
    const refused = await call();
    expect(refused).toMatchObject({ code: 'MEMBER_LIMIT_REACHED', memberId: 'dev-ada', limit: 40, used: 24 });

    // The account has credits left (the free plan's 1,000 of the month, less 24): only the member is stopped.
    await waitForText(page, '#credits-available', /^976$/);
    await waitForText(page, '#member-dev-ada', /dev-ada\s*24\s*40\s*16/);
    await journey.screenshot(page, 'credits-member-limit');
  }, 120_000);

  it('sets a spend limit on Starter: overage beyond the credits shows live against it, and a call past it is refused', async () => {
    const accountId = `acct_journey_spend_${Date.now().toString(36)}`;
    const page = await journey.newPage();
    await subscribeToStarter(journey, page, accountId);
    await waitForText(page, '#spend-status', /^\$0\.00 spent beyond your plan this period \(no limit\)$/);
    // Starter's credits are on the page (its provisioning pushed): no update redraws the form while the limit is typed.
    await waitForText(page, '#credits-available', /^21,000$/);
    await page.fill('#spend-limit-amount', '20');
    await page.click('#spend-limit-save');
    await waitForText(page, '#spend-status', /^\$0\.00 of \$20\.00 spent beyond your plan this period$/);
    const notReloaded = await markPage(page);

    // claude-sonnet-4: a million output tokens are 15,000 credits. The account has 21,000 (Starter's 20,000 and the
    // free month's 1,000 from before it subscribed): the second call needs 9,000 beyond them, billed at $0.0012 each
    // ($10.80); a third (15,000 more, $18.00) would pass the $20.00, where 7,670 more credits fit.
    const gateway = await journey.stack.as('svc_journey_gateway', ['service']);
    const call = async () => {
      const reserved = await gateway<{ reserveUsage: { id: string } }>(
        `mutation { reserveUsage(input: { accountId: "${accountId}", model: "claude-sonnet-4", inputTokens: 0, maxOutputTokens: 1000000 }) { id } }`,
      );
      const id = reserved.data?.reserveUsage.id;
      if (id) {
        const committed = await gateway(
          `mutation { commitUsage(input: { accountId: "${accountId}", reservationId: "${id}", inputTokens: 0, outputTokens: 1000000 }) { duplicate } }`,
        );
        expect(committed.errors).toBeUndefined();
      }
      return reserved.errors?.[0]?.extensions ?? null;
    };
    expect(await call()).toBeNull();
    expect(await call()).toBeNull();
    await waitForText(page, '#spend-status', /^\$10\.80 of \$20\.00 spent beyond your plan this period$/);
    await waitForText(page, '#credits-available', /^0$/);
    expect(await call()).toMatchObject({ code: 'SPEND_LIMIT_REACHED', limitCents: 2000, overageRoom: 7670 });
    expect(await notReloaded()).toBe(true);
    await journey.screenshot(page, 'credits-spend-limit');
  }, 120_000);
});
