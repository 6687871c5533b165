import { BillingCustomer } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';

/**
 * The next bill and invoices in full (issue 15, items 2 and 3): viewer.upcomingInvoice is Stripe's preview of
 * the live subscription's next invoice (plan fee and the usage so far at its unit price), viewer.invoice(id) an
 * issued invoice with every line (past Stripe's first page of ten) and its totals, and Plan.overagePrices the
 * metered prices a page shows. Against the emulator, to the cent.
 */

const LINE =
  'description quantity unitAmount unitAmountDecimal amount discountAmount taxAmount periodStart periodEnd proration';

interface Line {
  description: string;
  quantity: number | null;
  unitAmount: number | null;
  unitAmountDecimal: string | null;
  amount: number;
  proration: boolean;
  periodStart: string;
  periodEnd: string;
}

interface HistoryPage {
  viewer: {
    invoices: {
      nodes: Array<{ id: string; subscriptionId: string | null; createdAt: string }>;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
}

describe('the next bill and invoices in full', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({}, { webhooks: true });
    // The test reports overage itself (flush), so the timer's reports cannot race it.
    await stack.app.overageReporter?.stop();
  });
  afterAll(() => stack.stop());

  async function subscribe(accountId: string) {
    const gql = await stack.as(accountId);
    const result = await gql<{ createSubscription: { id: string; currentPeriodEnd: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id currentPeriodEnd } }',
    );
    expect(result.errors).toBeUndefined();
    await stack.flushWebhooks();
    return { gql, subscription: result.data?.createSubscription as { id: string; currentPeriodEnd: string } };
  }

  it('upcomingInvoice: the plan fee and the usage so far at its unit price, charged at the period end', async () => {
    const { gql, subscription } = await subscribe('acct_bills_upcoming');
    // 1,250 requests on starter (1,000 included): 250 over, at 1 cent each.
    const recorded = await gql(
      'mutation { recordUsage(input: { metric: "ai_requests", quantity: 1250, idempotencyKey: "bills-1" }) { __typename } }',
    );
    expect(recorded.errors).toBeUndefined();
    expect(await stack.app.overageReporter?.flush()).toMatchObject({ reported: 1, units: 250 });

    const answer = await gql<{ viewer: { upcomingInvoice: Record<string, unknown> & { lines: Line[] } } }>(
      `{ viewer { upcomingInvoice { date periodStart periodEnd subtotal discount tax total amountDue currency lines { ${LINE} } } } }`,
    );
    expect(answer.errors).toBeUndefined();
    const upcoming = answer.data?.viewer.upcomingInvoice as Record<string, unknown> & { lines: Line[] };
    expect(upcoming).toMatchObject({
      date: subscription.currentPeriodEnd,
      subtotal: 1900 + 250,
      discount: 0,
      tax: 0,
      total: 2150,
      amountDue: 2150,
      currency: 'usd',
    });
    const plan = upcoming.lines.find((line) => line.amount === 1900) as Line;
    expect(plan).toMatchObject({
      quantity: 1,
      unitAmount: 1900,
      unitAmountDecimal: '1900',
      proration: false,
    });
    // The plan fee is for the next period, which starts when this one ends.
    expect(plan.periodStart).toBe(subscription.currentPeriodEnd);
    const usage = upcoming.lines.filter((line) => line.quantity === 250);
    expect(usage).toEqual([expect.objectContaining({ unitAmount: 1, unitAmountDecimal: '1', amount: 250 })]);
    // Storage has no overage: its line bills nothing.
    expect(upcoming.lines.reduce((total, line) => total + line.amount, 0)).toBe(2150);
  });

  it('upcomingInvoice is null without a live subscription', async () => {
    const gql = await stack.as('acct_bills_none');
    const answer = await gql<{ viewer: { upcomingInvoice: unknown } }>(
      '{ viewer { upcomingInvoice { total } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.viewer.upcomingInvoice).toBeNull();
  });

  it('invoice(id): the first invoice in full, paid; another account’s id is null', async () => {
    const { gql } = await subscribe('acct_bills_paid');
    const list = await gql<{
      viewer: { invoices: { nodes: Array<{ id: string; subscriptionId: string; amountRemaining: number }> } };
    }>('{ viewer { invoices(first: 10) { nodes { id subscriptionId amountRemaining } } } }');
    const [first] = list.data?.viewer.invoices.nodes ?? [];
    expect(first).toMatchObject({ subscriptionId: expect.stringMatching(/^sub_/), amountRemaining: 0 });
    const answer = await gql<{ viewer: { invoice: Record<string, unknown> & { lines: Line[] } } }>(
      `{ viewer { invoice(id: "${first.id}") { invoice { id status } subtotal discount tax total amountDue amountPaid amountRemaining creditedAfterPayment currency dueDate attemptCount nextPaymentAttempt lines { ${LINE} } } } }`,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.viewer.invoice).toMatchObject({
      invoice: { id: first.id, status: 'paid' },
      subtotal: 1900,
      total: 1900,
      amountPaid: 1900,
      amountRemaining: 0,
      creditedAfterPayment: 0,
      dueDate: null,
      attemptCount: 1,
      nextPaymentAttempt: null,
      lines: [expect.objectContaining({ quantity: 1, unitAmount: 1900, amount: 1900, proration: false })],
    });

    const other = await stack.as('acct_bills_upcoming');
    const foreign = await other<{ viewer: { invoice: unknown } }>(
      `{ viewer { invoice(id: "${first.id}") { total } } }`,
    );
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data?.viewer.invoice).toBeNull();
  });

  it('viewer.invoices pages the whole history, a cancelled subscription’s invoices included, newest first', async () => {
    const { gql, subscription: first } = await subscribe('acct_bills_history');
    const cancelled = await gql('mutation { cancelSubscription(input: { atPeriodEnd: false }) { id } }');
    expect(cancelled.errors).toBeUndefined();
    await stack.flushWebhooks();
    const again = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "professional", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(again.errors).toBeUndefined();
    await stack.flushWebhooks();
    const second = again.data?.createSubscription.id as string;
    expect(second).not.toBe(first.id);

    // One invoice a page, following endCursor to the end: every invoice once, in order.
    const seen: Array<{ id: string; subscriptionId: string | null; createdAt: string }> = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const answer = await gql<HistoryPage>(
        `query ($after: String) { viewer { invoices(first: 1, after: $after) { nodes { id subscriptionId createdAt } pageInfo { hasNextPage endCursor } } } }`,
        { after },
      );
      expect(answer.errors).toBeUndefined();
      const connection = answer.data?.viewer.invoices as HistoryPage['viewer']['invoices'];
      seen.push(...connection.nodes);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(new Set(seen.map((invoice) => invoice.id)).size).toBe(seen.length);
    // The new subscription's first invoice leads; the cancelled one's (its first, and its final one) follow.
    expect(seen[0]?.subscriptionId).toBe(second);
    expect(seen.filter((invoice) => invoice.subscriptionId === first.id).length).toBeGreaterThanOrEqual(1);
    expect(seen.map((invoice) => invoice.subscriptionId)).toEqual(expect.arrayContaining([first.id, second]));
    const times = seen.map((invoice) => Date.parse(invoice.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // The cancelled subscription's invoices open in full as any other.
    const old = seen.find((invoice) => invoice.subscriptionId === first.id) as { id: string };
    const details = await gql<{ viewer: { invoice: { invoice: { id: string }; total: number } } }>(
      `{ viewer { invoice(id: "${old.id}") { invoice { id } total } } }`,
    );
    expect(details.errors).toBeUndefined();
    expect(details.data?.viewer.invoice.invoice.id).toBe(old.id);
  });

  it('invoice(id) lists every line, past Stripe’s first page of ten', async () => {
    const { gql } = await subscribe('acct_bills_many_lines');
    const customer = await stack.app.orm.em
      .fork()
      .findOneOrFail(BillingCustomer, { accountId: 'acct_bills_many_lines' });
    const stripeCustomerId = customer.stripeCustomerId as string;
    for (let item = 1; item <= 12; item++)
      await stack.stripe.invoiceItems.create({
        customer: stripeCustomerId,
        amount: item * 100,
        currency: 'usd',
        description: `Setup work ${item}`,
      });
    const draft = await stack.stripe.invoices.create({
      customer: stripeCustomerId,
      pending_invoice_items_behavior: 'include',
      metadata: { account_id: 'acct_bills_many_lines' },
    });
    await stack.stripe.invoices.finalizeInvoice(draft.id as string);
    await stack.flushWebhooks();
    const answer = await gql<{ viewer: { invoice: { total: number; lines: Line[] } } }>(
      `{ viewer { invoice(id: "${draft.id}") { total lines { description amount } } } }`,
    );
    expect(answer.errors).toBeUndefined();
    const lines = answer.data?.viewer.invoice.lines ?? [];
    expect(lines).toHaveLength(12);
    expect(new Set(lines.map((line) => line.description)).size).toBe(12);
    // 100 + 200 + … + 1,200 cents.
    expect(lines.reduce((total, line) => total + line.amount, 0)).toBe(7800);
    expect(answer.data?.viewer.invoice.total).toBe(7800);
  });

  it('Plan.overagePrices: each metric billed past the allowance, per interval, in cents and as a decimal', async () => {
    const answer = await stack.graphql<{ plans: Array<{ key: string; overagePrices: unknown[] }> }>(
      '{ plans { key overagePrices { metric unit interval unitAmount unitAmountDecimal currency } } }',
    );
    expect(answer.errors).toBeUndefined();
    const byKey = new Map(answer.data?.plans.map((plan) => [plan.key, plan.overagePrices]));
    expect(byKey.get('free')).toEqual([]);
    expect(byKey.get('starter')).toEqual(
      expect.arrayContaining([
        {
          metric: 'ai_requests',
          unit: expect.any(String),
          interval: 'MONTH',
          unitAmount: 1,
          unitAmountDecimal: '1',
          currency: 'usd',
        },
        {
          metric: 'storage_mb',
          unit: expect.any(String),
          interval: 'YEAR',
          unitAmount: 5,
          unitAmountDecimal: '5',
          currency: 'usd',
        },
      ]),
    );
  });
});
