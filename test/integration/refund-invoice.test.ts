import { BillingCustomer, Invoice } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';

/**
 * Refunds and credits by admins (issue 15, item 5; docs/billing-rules.md, "refunds"): always through a Stripe
 * credit note, to the card or to the customer's balance (which the renewal uses, to the cent), never past what
 * the invoice's payments still hold, and idempotent by the admin's key.
 */

const REFUND = `mutation($input: RefundInvoiceInput!) {
  refundInvoice(input: $input) {
    invoice { id amountRefunded }
    amountPaid
    creditedAfterPayment
    creditNotes { id amount refundedToCard creditedToBalance outOfBand reason status }
  }
}`;

interface Refunded {
  refundInvoice: {
    invoice: { id: string; amountRefunded: number };
    amountPaid: number;
    creditedAfterPayment: number;
    creditNotes: Array<{
      amount: number;
      refundedToCard: number;
      creditedToBalance: number;
      reason: string | null;
    }>;
  };
}

describe('refundInvoice: credit notes to the card or the balance', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({}, { webhooks: true });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  /** A starter subscription ($19.00, paid at once); answers its first invoice's id. */
  async function paidInvoiceOf(accountId: string): Promise<string> {
    const gql = await stack.as(accountId);
    const created = await gql(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(created.errors).toBeUndefined();
    await stack.flushWebhooks();
    const row = await em().findOneOrFail(Invoice, { accountId });
    expect(row).toMatchObject({ status: 'paid', amountPaid: 1900 });
    return row.stripeInvoiceId;
  }

  async function chargeRefunded(invoiceId: string): Promise<number> {
    const [payment] = (await stack.stripe.invoicePayments.list({ invoice: invoiceId })).data;
    const intent = await stack.stripe.paymentIntents.retrieve(String(payment.payment.payment_intent));
    return (await stack.stripe.charges.retrieve(String(intent.latest_charge))).amount_refunded;
  }

  it('refunds to the card and credits the balance; a retry with the same key gives nothing twice; the renewal uses the credit', async () => {
    const account = 'acct_refund_main';
    const invoiceId = await paidInvoiceOf(account);
    const admin = await stack.as('acct_refund_ops', ['admin']);
    const refund = (input: Record<string, unknown>) =>
      admin<Refunded>(REFUND, { input: { invoiceId, ...input } });

    const toCard = await refund({ amount: 500, to: 'CARD', reason: 'DUPLICATE', idempotencyKey: 'ticket-1' });
    expect(toCard.errors).toBeUndefined();
    expect(toCard.data?.refundInvoice).toMatchObject({
      amountPaid: 1900,
      creditedAfterPayment: 500,
      creditNotes: [{ amount: 500, refundedToCard: 500, creditedToBalance: 0, reason: 'duplicate' }],
    });
    expect(await chargeRefunded(invoiceId)).toBe(500);
    // The same key again (a double click, a retried request): the same answer, no second refund.
    const again = await refund({ amount: 500, to: 'CARD', reason: 'DUPLICATE', idempotencyKey: 'ticket-1' });
    expect(again.data?.refundInvoice.creditNotes).toHaveLength(1);
    expect(await chargeRefunded(invoiceId)).toBe(500);
    // charge.refunded brings the refund onto our invoice row.
    await stack.flushWebhooks();
    expect((await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).amountRefunded).toBe(500);

    const toBalance = await refund({ amount: 400, to: 'CUSTOMER_BALANCE', idempotencyKey: 'ticket-2' });
    expect(toBalance.errors).toBeUndefined();
    expect(toBalance.data?.refundInvoice.creditNotes[0]).toMatchObject({
      amount: 400,
      refundedToCard: 0,
      creditedToBalance: 400,
    });
    expect(await chargeRefunded(invoiceId)).toBe(500);
    const stripeCustomerId = (await em().findOneOrFail(BillingCustomer, { accountId: account }))
      .stripeCustomerId as string;
    const customer = await stack.stripe.customers.retrieve(stripeCustomerId);
    expect(customer.deleted ? null : customer.balance).toBe(-400);

    // 1,900 paid − 500 − 400 = 1,000 left.
    const over = await refund({ amount: 1001, to: 'CARD', idempotencyKey: 'ticket-3' });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', refundable: 1000 });
    expect((await refund({ amount: 1000, to: 'CARD', idempotencyKey: 'ticket-4' })).errors).toBeUndefined();
    const nothingLeft = await refund({ amount: 1, to: 'CUSTOMER_BALANCE', idempotencyKey: 'ticket-5' });
    expect(nothingLeft.errors?.[0]?.extensions).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', refundable: 0 });
    expect(await chargeRefunded(invoiceId)).toBe(1500);

    // The renewal a month later: $19.00 less the $4.00 credit.
    await stack.advanceClock(32 * 24 * 3600);
    const subscription = (await stack.stripe.subscriptions.list({ customer: stripeCustomerId })).data[0];
    const renewal = (await stack.stripe.invoices.list({ subscription: subscription.id })).data.find(
      (invoice) => invoice.billing_reason === 'subscription_cycle',
    );
    expect(renewal).toMatchObject({ total: 1900, amount_due: 1500, starting_balance: -400 });
  });

  it('a refund made outside credit notes counts against what is left', async () => {
    const invoiceId = await paidInvoiceOf('acct_refund_outside');
    const [payment] = (await stack.stripe.invoicePayments.list({ invoice: invoiceId })).data;
    await stack.stripe.refunds.create({
      payment_intent: String(payment.payment.payment_intent),
      amount: 300,
    });
    const admin = await stack.as('acct_refund_ops', ['admin']);
    const over = await admin(REFUND, { input: { invoiceId, amount: 1601, idempotencyKey: 'outside-1' } });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', refundable: 1600 });
  });

  it('row 87: a charged-back payment holds nothing more to give: no credit to the balance on top of the chargeback', async () => {
    const account = 'acct_refund_charged_back';
    const gql = await stack.as(account);
    // Stripe's test card whose charge succeeds and is then disputed as fraudulent: the funds are withdrawn.
    const created = await gql(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_createDispute" }) { id } }',
    );
    expect(created.errors).toBeUndefined();
    await stack.flushWebhooks();
    const invoiceId = (await em().findOneOrFail(Invoice, { accountId: account })).stripeInvoiceId;
    const admin = await stack.as('acct_refund_ops', ['admin']);
    const toBalance = await admin(REFUND, {
      input: { invoiceId, amount: 1900, to: 'CUSTOMER_BALANCE', idempotencyKey: 'chargeback-1' },
    });
    expect(toBalance.errors?.[0]?.extensions).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', refundable: 0 });
    const stripeCustomerId = (await em().findOneOrFail(BillingCustomer, { accountId: account }))
      .stripeCustomerId as string;
    const customer = await stack.stripe.customers.retrieve(stripeCustomerId);
    expect(customer.deleted ? null : customer.balance).toBe(0);
  });

  it('two refunds at once with different keys never give back more than was paid together', async () => {
    const invoiceId = await paidInvoiceOf('acct_refund_race');
    const admin = await stack.as('acct_refund_ops', ['admin']);
    const answers = await Promise.all(
      ['race-1', 'race-2', 'race-3'].map((idempotencyKey, index) =>
        admin(REFUND, {
          input: { invoiceId, amount: 1000, to: index === 1 ? 'CUSTOMER_BALANCE' : 'CARD', idempotencyKey },
        }),
      ),
    );
    // One passes; the others find the account busy (CONFLICT, the account lock) or nothing left to give.
    const codes = answers.map((answer) => answer.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((code) => code === 'OK')).toHaveLength(1);
    expect(
      codes
        .filter((code) => code !== 'OK')
        .every((code) => ['CONFLICT', 'REFUND_EXCEEDS_PAID'].includes(String(code))),
    ).toBe(true);
    // Retried, each loser finds only 900 left.
    for (const [index, code] of codes.entries()) {
      if (code === 'OK') continue;
      const retried = await admin(REFUND, {
        input: { invoiceId, amount: 1000, to: 'CARD', idempotencyKey: `race-${index + 1}` },
      });
      expect(retried.errors?.[0]?.extensions).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', refundable: 900 });
    }
    const notes = await stack.stripe.creditNotes.list({ invoice: invoiceId });
    expect(notes.data.map((note) => note.total)).toEqual([1000]);
  });

  it('only an admin refunds; an unknown invoice is NOT_FOUND; a non-positive amount is BAD_USER_INPUT', async () => {
    const invoiceId = await paidInvoiceOf('acct_refund_guarded');
    const owner = await stack.as('acct_refund_guarded');
    const own = await owner(REFUND, { input: { invoiceId, amount: 100, idempotencyKey: 'self' } });
    expect(own.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const admin = await stack.as('acct_refund_ops', ['admin']);
    const unknown = await admin(REFUND, {
      input: { invoiceId: 'in_missing', amount: 100, idempotencyKey: 'x' },
    });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const zero = await admin(REFUND, { input: { invoiceId, amount: 0, idempotencyKey: 'zero' } });
    expect(zero.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await chargeRefunded(invoiceId)).toBe(0);
  });
});
