import type Stripe from 'stripe';
import { codeOf, DAY, FINALIZATION_GRACE, startWorld, type World } from './world';

/**
 * Stripe Tax (docs/billing-rules.md rows 56–58, ADR 0024), `STRIPE_TAX=on`, the emulated seller in Ireland (the
 * emulator's default origin): tax is added on top of net prices, per line after its discounts; a verified VAT ID
 * of another EU country makes the invoice reverse charge (no tax, the note); a customer Stripe Tax cannot place is
 * refused before anything is written. Every amount is Stripe's invoice, to the cent.
 *
 * Rates (the emulator's table, emulator/README.md "Tax"): IE 23 %, DE 19 %. Stripe rounds each line's tax on its
 * own, half away from zero (https://docs.stripe.com/tax/invoicing), on the line's amount after discounts.
 */
/**
 * Every amount here is in USD: these euro-area customers choose to pay in dollars (the `currency` input, row 53),
 * so the tax rules are checked on the figures of the base price list. Tax in EUR is the same rule on €18.00.
 */
const IN_DOLLARS = { currency: 'usd' };

describe('tax (Stripe Tax on)', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld({ STRIPE_TAX: 'on' });
  });
  afterAll(() => world.stop());

  type Caller = Awaited<ReturnType<World['customer']>>;

  async function setAddress(customer: Caller, country: string, postalCode: string | null = null) {
    return customer.gql<{ updateCustomer: { address: { country: string } } }>(
      'mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { address { country } } }',
      { input: { address: { line1: '1 Main Street', city: 'Town', country, postalCode } } },
    );
  }

  async function stripeInvoices(customer: Caller): Promise<Stripe.Invoice[]> {
    const listed = await world.stack.stripe.invoices.list({
      customer: await customer.stripeCustomerId(),
      limit: 100,
    });
    return [...listed.data].sort((a, b) => a.created - b.created);
  }

  function taxOf(invoice: Stripe.Invoice): number {
    return (invoice.total_taxes ?? []).reduce((sum, tax) => sum + tax.amount, 0);
  }

  it('row 56: an Irish customer pays 23 % VAT on top of the net price, on the preview and the paid invoice', async () => {
    const irish = await world.customer(`acct_tax_ie_${run}`);
    expect((await setAddress(irish, 'IE')).errors).toBeUndefined();
    expect((await irish.subscribe('starter', IN_DOLLARS)).errors).toBeUndefined();
    await world.stack.flushWebhooks();
    const [first] = await stripeInvoices(irish);
    // Starter $19.00 net; VAT 1900 × 23 % = 437; total 2337, all paid.
    expect(first).toMatchObject({ subtotal: 1900, total: 2337, amount_paid: 2337, status: 'paid' });
    expect(taxOf(first as Stripe.Invoice)).toBe(437);

    // The API shows the same on that invoice and on the next bill (the renewal: the same 437 on 1900).
    const details = await irish.gql<{ viewer: { invoice: Record<string, unknown> } }>(
      `{ viewer { invoice(id: "${first?.id}") { subtotal tax total reverseCharge reverseChargeNote
          taxLines { amount currency ratePercent jurisdiction taxabilityReason taxableAmount } } } }`,
    );
    expect(details.errors).toBeUndefined();
    expect(details.data?.viewer.invoice).toEqual({
      subtotal: 1900,
      tax: 437,
      total: 2337,
      reverseCharge: false,
      reverseChargeNote: null,
      taxLines: [
        {
          amount: 437,
          currency: 'usd',
          ratePercent: '23',
          jurisdiction: 'IE',
          taxabilityReason: 'standard_rated',
          taxableAmount: 1900,
        },
      ],
    });
    const upcoming = await irish.gql<{ viewer: { upcomingInvoice: Record<string, unknown> } }>(
      '{ viewer { upcomingInvoice { subtotal tax total taxLines { amount ratePercent } } } }',
    );
    expect(upcoming.data?.viewer.upcomingInvoice).toEqual({
      subtotal: 1900,
      tax: 437,
      total: 2337,
      taxLines: [{ amount: 437, ratePercent: '23' }],
    });
  }, 60_000);

  it('row 56: an upgrade with LAUNCH20 prorates, discounts each line, then taxes each line (discount before tax)', async () => {
    const irish = await world.customer(`acct_tax_upgrade_${run}`);
    expect((await setAddress(irish, 'IE')).errors).toBeUndefined();
    expect((await irish.subscribe('starter', IN_DOLLARS)).errors).toBeUndefined();
    const applied = await irish.gql('mutation { applyPromotionCode(input: { code: "LAUNCH20" }) { id } }');
    expect(applied.errors).toBeUndefined();
    await world.advance(10 * DAY);

    const preview = await irish.gql<{ previewSubscriptionChange: Record<string, number> }>(
      '{ previewSubscriptionChange(input: { planKey: "professional" }) { subtotal discount tax total amountDue } }',
    );
    expect(preview.errors).toBeUndefined();
    expect((await irish.change({ planKey: 'professional' })).errors).toBeUndefined();
    const upgrade = (await stripeInvoices(irish)).find(
      (invoice) => invoice.billing_reason === 'subscription_update',
    );
    if (!upgrade) throw new Error('no upgrade invoice');

    // Worked by hand from the lines' own period (Stripe prorates by the second to the change's moment:
    // https://docs.stripe.com/billing/subscriptions/prorations). Left: r seconds of a P-second period.
    //   credit = −round(1900 × r / P), debit = round(4900 × r / P)
    // LAUNCH20 is in effect at the change: each proration line is already net of 20 % (Stripe's default
    // `proration_discounts: included`, https://docs.stripe.com/changelog/clover/2025-09-30/itemize-proration-discount-amounts):
    //   line = amount − round(amount × 20 %)
    // then VAT per line on that net amount (https://docs.stripe.com/tax/invoicing; discounts come before tax):
    //   tax = round(line × 23 %), half away from zero; total = Σ line + Σ tax.
    // E.g. a 30-day period with 20 days left: credit −1267 → −1014, VAT −233; debit 3267 → 2614, VAT 601;
    // total 1600 + 368 = 1968.
    const subscription = await world.stack.stripe.subscriptions.retrieve(
      upgrade.parent?.subscription_details?.subscription as string,
    );
    const item = subscription.items.data[0] as Stripe.SubscriptionItem;
    const periodEnd = item.current_period_end;
    const lines = upgrade.lines.data;
    expect(lines).toHaveLength(2);
    const changedAt = (lines[0] as Stripe.InvoiceLineItem).period.start;
    const periodStart = periodEnd - (await periodLength(subscription, periodEnd));
    const left = periodEnd - changedAt;
    const period = periodEnd - periodStart;
    const net = (amount: number) => amount - Math.sign(amount) * Math.round((Math.abs(amount) * 20) / 100);
    const vat = (amount: number) => Math.sign(amount) * Math.round((Math.abs(amount) * 23) / 100);
    const credit = net(-Math.round((1900 * left) / period));
    const debit = net(Math.round((4900 * left) / period));
    expect(lines.map((line) => line.amount).sort((a, b) => a - b)).toEqual([credit, debit]);
    expect(
      lines.map((line) => (line.taxes ?? []).reduce((sum, tax) => sum + tax.amount, 0)).sort((a, b) => a - b),
    ).toEqual([vat(credit), vat(debit)]);
    expect(upgrade.total).toBe(credit + debit + vat(credit) + vat(debit));
    expect(taxOf(upgrade)).toBe(vat(credit) + vat(debit));
    expect(upgrade.amount_paid).toBe(upgrade.total);
    // The preview said the same (made a moment before the change: at most a second's proration apart).
    expect(
      Math.abs((preview.data?.previewSubscriptionChange.total ?? 0) - upgrade.total),
    ).toBeLessThanOrEqual(2);
    expect(preview.data?.previewSubscriptionChange.tax).toBeGreaterThan(0);
  }, 90_000);

  it('rows 45, 49, 52, 56: seats and an add-on beside a discounted plan, on one upgrade invoice with tax', async () => {
    const irish = await world.customer(`acct_tax_seats_addons_${run}`);
    expect((await setAddress(irish, 'IE')).errors).toBeUndefined();
    expect((await irish.subscribe('starter', IN_DOLLARS)).errors).toBeUndefined();
    expect(
      (await irish.gql('mutation { applyPromotionCode(input: { code: "LAUNCH20" }) { id } }')).errors,
    ).toBeUndefined();
    // Starter includes 3 seats: 5 is 2 extra at $8.00; and one unit of Extra storage 10 GB at $5.00.
    expect((await irish.gql('mutation { setSeats(input: { quantity: 5 }) { id } }')).errors).toBeUndefined();
    expect(
      (await irish.gql('mutation { addAddon(input: { key: "extra_storage_10gb" }) { id } }')).errors,
    ).toBeUndefined();
    await world.advance(10 * DAY);
    expect((await irish.change({ planKey: 'professional' })).errors).toBeUndefined();
    const upgrade = (await stripeInvoices(irish))
      .filter((invoice) => invoice.billing_reason === 'subscription_update')
      .at(-1) as Stripe.Invoice;

    // Worked by hand, r seconds left of a P-second period (https://docs.stripe.com/billing/subscriptions/prorations):
    // - the plan: credit −round(1900 r/P), debit round(4900 r/P), each net of LAUNCH20's 20 % (the coupon applies
    //   to the plans' products: https://docs.stripe.com/api/coupons/object#coupon_object-applies_to);
    // - the seats: Professional includes 5, the 5 paid for are all included there, so the 2 extra Starter seats
    //   are credited, −round(2 × 800 r/P), not discounted (the seats' product is not a plan's);
    // - the add-on moves to the same price on Professional: no line;
    // then 23 % VAT on each line after its discount (https://docs.stripe.com/tax/invoicing).
    const subscription = await world.stack.stripe.subscriptions.retrieve(
      upgrade.parent?.subscription_details?.subscription as string,
    );
    const planItem = subscription.items.data.find(
      (item) => item.price.lookup_key === 'price_professional_monthly',
    );
    const periodEnd = planItem?.current_period_end as number;
    const lines = upgrade.lines.data;
    const changedAt = (lines[0] as Stripe.InvoiceLineItem).period.start;
    const period = await periodLength(subscription, periodEnd);
    const left = periodEnd - changedAt;
    const net = (amount: number) => amount - Math.sign(amount) * Math.round((Math.abs(amount) * 20) / 100);
    const vat = (amount: number) => Math.sign(amount) * Math.round((Math.abs(amount) * 23) / 100);
    const planCredit = net(-Math.round((1900 * left) / period));
    const planDebit = net(Math.round((4900 * left) / period));
    const seatsCredit = -Math.round((2 * 800 * left) / period);
    const expected = [planCredit, planDebit, seatsCredit];
    expect(lines.map((line) => line.amount).sort((a, b) => a - b)).toEqual(
      [...expected].sort((a, b) => a - b),
    );
    expect(
      lines.map((line) => (line.taxes ?? []).reduce((sum, tax) => sum + tax.amount, 0)).sort((a, b) => a - b),
    ).toEqual(expected.map(vat).sort((a, b) => a - b));
    const sum = (amounts: number[]) => amounts.reduce((total, amount) => total + amount, 0);
    expect(upgrade.total).toBe(sum(expected) + sum(expected.map(vat)));
    expect(upgrade.amount_paid).toBe(upgrade.total);
    // What stays on the subscription: Professional, no extra seat item, the add-on on its same price.
    expect(
      subscription.items.data
        .map((item) => [item.price.lookup_key, item.quantity])
        .filter(([key]) => !String(key).includes('overage')),
    ).toEqual(
      expect.arrayContaining([
        ['price_professional_monthly', 1],
        ['price_extra_storage_10gb_monthly', 1],
      ]),
    );
    expect(subscription.items.data.some((item) => item.price.metadata?.coditect_seats_for)).toBe(false);
  }, 90_000);

  it('row 56: a downgrade at the period end is taxed on the new plan from the renewal on', async () => {
    const irish = await world.customer(`acct_tax_downgrade_${run}`);
    expect((await setAddress(irish, 'IE')).errors).toBeUndefined();
    expect((await irish.subscribe('professional', IN_DOLLARS)).errors).toBeUndefined();
    const preview = await irish.gql<{ previewSubscriptionChange: Record<string, number> }>(
      '{ previewSubscriptionChange(input: { planKey: "starter", applyAt: PERIOD_END }) { subtotal tax total amountDue } }',
    );
    // The renewal on Starter: 1900 + 23 % (437) = 2337.
    expect(preview.data?.previewSubscriptionChange).toEqual({
      subtotal: 1900,
      tax: 437,
      total: 2337,
      amountDue: 2337,
    });
    expect((await irish.change({ planKey: 'starter' })).errors).toBeUndefined();
    const [subscription] = (
      await world.stack.stripe.subscriptions.list({ customer: await irish.stripeCustomerId() })
    ).data;
    const periodEnd = (subscription as Stripe.Subscription).items.data[0]?.current_period_end as number;
    const clock = (await (await fetch(`${world.stack.emulator.url}/_emulator/clock`)).json()) as {
      now: number;
    };
    await world.advance(periodEnd - clock.now + 60);
    await world.advance(FINALIZATION_GRACE);
    const renewal = (await stripeInvoices(irish)).find(
      (invoice) => invoice.billing_reason === 'subscription_cycle',
    );
    expect(renewal).toMatchObject({ subtotal: 1900, total: 2337, amount_paid: 2337 });
    expect(taxOf(renewal as Stripe.Invoice)).toBe(437);
  }, 90_000);

  /** The subscription's period length before `periodEnd`: from the first invoice's line (the whole first period). */
  async function periodLength(subscription: Stripe.Subscription, periodEnd: number): Promise<number> {
    const first = await world.stack.stripe.invoices.retrieve(subscription.latest_invoice as string);
    const created = (await world.stack.stripe.invoices.list({ subscription: subscription.id, limit: 100 }))
      .data;
    const initial = created.find((invoice) => invoice.billing_reason === 'subscription_create') ?? first;
    const line = initial.lines.data[0] as Stripe.InvoiceLineItem;
    expect(line.period.end).toBe(periodEnd);
    return line.period.end - line.period.start;
  }

  it('row 57: a German business with a verified VAT ID pays no VAT: reverse charge, with the note', async () => {
    const german = await world.customer(`acct_tax_de_${run}`);
    expect((await setAddress(german, 'DE', '10115')).errors).toBeUndefined();
    const added = await german.gql<{ addTaxId: { type: string; value: string; verification: string } }>(
      'mutation { addTaxId(input: { type: eu_vat, value: "DE 123456789" }) { type value verification } }',
    );
    expect(added.errors).toBeUndefined();
    expect(added.data?.addTaxId).toEqual({ type: 'eu_vat', value: 'DE123456789', verification: 'verified' });
    // The same ID again changes nothing.
    expect(
      (await german.gql('mutation { addTaxId(input: { type: eu_vat, value: "DE123456789" }) { id } }'))
        .errors,
    ).toBeUndefined();
    const customer = await german.gql<{ viewer: { customer: { taxIds: unknown[]; taxExempt: string } } }>(
      '{ viewer { customer { taxExempt taxIds { type value verification } } } }',
    );
    expect(customer.data?.viewer.customer).toEqual({
      taxExempt: 'none',
      taxIds: [{ type: 'eu_vat', value: 'DE123456789', verification: 'verified' }],
    });

    expect((await german.subscribe('starter', IN_DOLLARS)).errors).toBeUndefined();
    await world.stack.flushWebhooks();
    const [first] = await stripeInvoices(german);
    // $19.00 net, VAT 0 (the buyer accounts for it), total 1900.
    expect(first).toMatchObject({ subtotal: 1900, total: 1900, amount_paid: 1900 });
    expect(taxOf(first as Stripe.Invoice)).toBe(0);
    const details = await german.gql<{ viewer: { invoice: Record<string, unknown> } }>(
      `{ viewer { invoice(id: "${first?.id}") { tax total reverseCharge reverseChargeNote taxLines { amount taxabilityReason } } } }`,
    );
    expect(details.data?.viewer.invoice).toEqual({
      tax: 0,
      total: 1900,
      reverseCharge: true,
      reverseChargeNote: 'Reverse charge',
      taxLines: [{ amount: 0, taxabilityReason: 'reverse_charge' }],
    });
  }, 60_000);

  it('row 57: without a verified VAT ID the same German customer pays 19 % (an unverified ID does not count)', async () => {
    const german = await world.customer(`acct_tax_de_unverified_${run}`);
    expect((await setAddress(german, 'DE', '10115')).errors).toBeUndefined();
    const added = await german.gql<{ addTaxId: { id: string; verification: string } }>(
      'mutation { addTaxId(input: { type: eu_vat, value: "DE111111111" }) { id verification } }',
    );
    expect(added.data?.addTaxId.verification).toBe('unverified');
    expect((await german.subscribe('starter', IN_DOLLARS)).errors).toBeUndefined();
    const [first] = await stripeInvoices(german);
    // 1900 × 19 % = 361.
    expect(first).toMatchObject({ subtotal: 1900, total: 2261 });
    const removed = await german.gql(`mutation { removeTaxId(id: "${added.data?.addTaxId.id}") }`);
    expect(removed.errors).toBeUndefined();
    expect(codeOf(await german.gql(`mutation { removeTaxId(id: "${added.data?.addTaxId.id}") }`))).toBe(
      'NOT_FOUND',
    );
  }, 60_000);

  it('row 58: a customer Stripe Tax cannot place is refused before anything is written', async () => {
    const nowhere = await world.customer(`acct_tax_nowhere_${run}`);
    const refused = await nowhere.subscribe('starter', IN_DOLLARS);
    expect(codeOf(refused)).toBe('TAX_LOCATION_REQUIRED');
    expect(refused.errors?.[0]?.message).toContain('updateCustomer');
    const subscriptions = await world.stack.stripe.subscriptions.list({
      customer: await nowhere.stripeCustomerId(),
      status: 'all',
    });
    expect(subscriptions.data).toEqual([]);

    // A US address without a ZIP cannot be placed either: Stripe refuses it (validate_location) and keeps none.
    const american = await setAddress(nowhere, 'US');
    expect(codeOf(american)).toBe('TAX_LOCATION_REQUIRED');
    const stripeCustomer = await world.stack.stripe.customers.retrieve(await nowhere.stripeCustomerId());
    expect((stripeCustomer as Stripe.Customer).address).toBeNull();

    // With a country it subscribes (Ireland: taxed).
    expect((await setAddress(nowhere, 'IE')).errors).toBeUndefined();
    expect((await nowhere.subscribe('starter', IN_DOLLARS)).errors).toBeUndefined();
  }, 60_000);

  it('Checkout collects the billing address and VAT ID and taxes the session', async () => {
    const buyer = await world.customer(`acct_tax_checkout_${run}`);
    const answer = await buyer.gql<{ createCheckoutSession: { id: string } }>(
      'mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "http://localhost:3000/ok", cancelUrl: "http://localhost:3000/no" }) { id } }',
    );
    expect(answer.errors).toBeUndefined();
    const session = await world.stack.stripe.checkout.sessions.retrieve(
      answer.data?.createCheckoutSession.id as string,
    );
    expect(session.automatic_tax.enabled).toBe(true);
    expect(session.automatic_tax.status).toBe('requires_location_inputs');
  }, 60_000);
});
