/**
 * Coupons, promotion codes and discounts through the official SDK, on test clocks so every amount is worked out by
 * hand to the cent.
 */
import Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, eventsOf, fixture, GRACE, T0 } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;
const MAR1 = Date.UTC(2026, 2, 1) / 1000;
const APR1 = Date.UTC(2026, 3, 1) / 1000;
const MAY1 = Date.UTC(2026, 4, 1) / 1000;

async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected a Stripe error');
}

async function invoicesOf(subscription: string): Promise<Stripe.Invoice[]> {
  const list = await stripe.invoices.list({ subscription, limit: 100 });
  return [...list.data].reverse();
}

function objectIdOf(event: Stripe.Event): string {
  return (event.data.object as { id: string }).id;
}

function discountId(subscription: Stripe.Subscription): string {
  const first = subscription.discounts[0];
  return typeof first === 'string' ? first : first.id;
}

describe('coupons', () => {
  it('creates, retrieves, updates, lists and deletes, with their events', async () => {
    const coupon = await stripe.coupons.create({ percent_off: 25, duration: 'forever', name: 'Quarter' });
    expect(coupon).toMatchObject({
      object: 'coupon',
      percent_off: 25,
      amount_off: null,
      currency: null,
      duration: 'forever',
      duration_in_months: null,
      max_redemptions: null,
      redeem_by: null,
      times_redeemed: 0,
      valid: true,
    });
    const flat = await stripe.coupons.create({
      id: 'FLAT5',
      amount_off: 500,
      currency: 'USD',
      duration: 'repeating',
      duration_in_months: 3,
      applies_to: { products: ['prod_x'] },
    });
    expect(flat).toMatchObject({ id: 'FLAT5', amount_off: 500, currency: 'usd', duration_in_months: 3 });
    expect(flat.applies_to).toBeUndefined();
    const expanded = await stripe.coupons.retrieve('FLAT5', { expand: ['applies_to'] });
    expect(expanded.applies_to).toEqual({ products: ['prod_x'] });

    const renamed = await stripe.coupons.update(coupon.id, {
      name: 'Quarter off',
      metadata: { team: 'growth' },
    });
    expect(renamed.name).toBe('Quarter off');
    const listed = await stripe.coupons.list({ limit: 100 });
    expect(listed.data.map((c) => c.id)).toEqual(expect.arrayContaining([coupon.id, 'FLAT5']));

    const removed = await stripe.coupons.del('FLAT5');
    expect(removed).toMatchObject({ id: 'FLAT5', object: 'coupon', deleted: true });
    const updated = await eventsOf(stripe, 'coupon.updated');
    expect(updated[0].data.previous_attributes).toMatchObject({ name: 'Quarter' });
    expect((await eventsOf(stripe, 'coupon.created')).length).toBeGreaterThanOrEqual(2);
    expect((await eventsOf(stripe, 'coupon.deleted'))[0].data.object).toMatchObject({ id: 'FLAT5' });
  });

  it('refuses what Stripe refuses', async () => {
    expect((await refusal(stripe.coupons.create({ duration: 'once' }))).statusCode).toBe(400);
    const both = await refusal(stripe.coupons.create({ percent_off: 10, amount_off: 100, currency: 'usd' }));
    expect(both).toMatchObject({ param: 'amount_off', code: 'parameters_exclusive' });
    expect((await refusal(stripe.coupons.create({ amount_off: 100 }))).param).toBe('currency');
    const months = await refusal(stripe.coupons.create({ percent_off: 10, duration: 'repeating' }));
    expect(months).toMatchObject({ code: 'parameter_missing', param: 'duration_in_months' });
    expect((await refusal(stripe.coupons.create({ percent_off: 101 }))).param).toBe('percent_off');
    await stripe.coupons.create({ id: 'TWICE', percent_off: 5 });
    expect((await refusal(stripe.coupons.create({ id: 'TWICE', percent_off: 5 }))).code).toBe(
      'resource_already_exists',
    );
    expect((await refusal(stripe.coupons.retrieve('NOPE'))).code).toBe('resource_missing');
  });
});

describe('promotion codes', () => {
  it('wraps a coupon, finds codes regardless of case, and updates `active`', async () => {
    const coupon = await stripe.coupons.create({ percent_off: 10 });
    const code = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: coupon.id },
      code: 'Spring10',
      max_redemptions: 5,
      restrictions: { minimum_amount: 2000, minimum_amount_currency: 'usd' },
    });
    expect(code).toMatchObject({
      object: 'promotion_code',
      active: true,
      code: 'Spring10',
      promotion: { type: 'coupon', coupon: coupon.id },
      restrictions: { first_time_transaction: false, minimum_amount: 2000, minimum_amount_currency: 'usd' },
      times_redeemed: 0,
    });
    const found = await stripe.promotionCodes.list({ code: 'SPRING10' });
    expect(found.data.map((p) => p.id)).toEqual([code.id]);
    const taken = await refusal(
      stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'spring10' }),
    );
    expect(taken.param).toBe('code');
    const off = await stripe.promotionCodes.update(code.id, { active: false });
    expect(off.active).toBe(false);
    expect((await stripe.promotionCodes.list({ code: 'spring10', active: true })).data).toEqual([]);
    const events = await eventsOf(stripe, 'promotion_code.updated');
    expect(events[0].data.previous_attributes).toEqual({ active: true });
    expect((await eventsOf(stripe, 'promotion_code.created')).some((e) => objectIdOf(e) === code.id)).toBe(
      true,
    );
  });
  it('expands the coupon of a code, also when the coupon id is one the caller chose', async () => {
    // PromotionCode.promotion.coupon is expandable (the SDK's types); a coupon's id may be the caller's own.
    await stripe.coupons.create({ id: 'launch20', percent_off: 20, duration: 'once' });
    const code = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: 'launch20' },
      code: 'LAUNCH20',
    });
    const read = await stripe.promotionCodes.retrieve(code.id, { expand: ['promotion.coupon'] });
    expect(read.promotion.coupon).toMatchObject({ object: 'coupon', id: 'launch20', percent_off: 20 });
  });
});

describe('discounts on subscriptions', () => {
  it('takes percent off the subscription invoice, per line and in total', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 25, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id, quantity: 2 }],
      discounts: [{ coupon: coupon.id }],
      expand: ['latest_invoice', 'discounts'],
    });
    const discount = subscription.discounts[0] as Stripe.Discount;
    expect(discount).toMatchObject({
      object: 'discount',
      source: { type: 'coupon', coupon: coupon.id },
      subscription: subscription.id,
      customer: f.customer.id,
      start: T0,
      end: null,
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({ subtotal: 2000, total: 1500, amount_due: 1500, amount_paid: 1500 });
    expect(invoice.discounts).toEqual([discount.id]);
    expect(invoice.total_discount_amounts).toEqual([{ amount: 500, discount: discount.id }]);
    expect(invoice.lines.data[0].discount_amounts).toEqual([{ amount: 500, discount: discount.id }]);
    expect((await stripe.coupons.retrieve(coupon.id)).times_redeemed).toBe(1);
    const created = await eventsOf(stripe, 'customer.discount.created');
    expect(created.some((e) => objectIdOf(e) === discount.id)).toBe(true);
  });

  it('spreads an amount off over the lines in proportion, adding up to the cent', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ amount_off: 750, currency: 'usd', duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }, { price: f.pro.id }],
      discounts: [{ coupon: coupon.id }],
      expand: ['latest_invoice'],
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    // 750 over 1000 : 3000 = 187.5 : 562.5; the leftover cent goes to the first of the tied remainders.
    expect(invoice.lines.data.map((l) => l.discount_amounts?.[0]?.amount)).toEqual([188, 562]);
    expect(invoice).toMatchObject({ subtotal: 4000, total: 3250, amount_paid: 3250 });
  });

  it('caps an amount off at the invoice amount', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ amount_off: 5000, currency: 'usd', duration: 'once' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
      expand: ['latest_invoice'],
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({ subtotal: 1000, total: 0, amount_due: 0, status: 'paid' });
  });

  it('a repeating coupon discounts the invoices of its months only, then goes', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({
      percent_off: 20,
      duration: 'repeating',
      duration_in_months: 3,
    });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
      expand: ['discounts'],
    });
    expect((subscription.discounts[0] as Stripe.Discount).end).toBe(APR1);
    for (const at of [FEB1, MAR1, APR1, MAY1]) await advanceClock(stripe, f.clock.id, at + GRACE);
    const invoices = await invoicesOf(subscription.id);
    expect(invoices.map((i) => [i.period_end, i.total, i.status])).toEqual([
      [T0, 800, 'paid'],
      [FEB1, 800, 'paid'],
      [MAR1, 800, 'paid'],
      [APR1, 1000, 'paid'],
      [MAY1, 1000, 'paid'],
    ]);
    expect((await stripe.subscriptions.retrieve(subscription.id)).discounts).toEqual([]);
    const deleted = await eventsOf(stripe, 'customer.discount.deleted');
    expect(deleted.some((e) => objectIdOf(e) === discountId(subscription))).toBe(true);
  });

  it('a once coupon discounts the first invoice only', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 50, duration: 'once' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
    });
    expect(subscription.discounts).toEqual([]);
    await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
    expect((await invoicesOf(subscription.id)).map((i) => i.total)).toEqual([500, 1000]);
  });

  it('a $0 trial invoice does not use up a once coupon: the first paid invoice gets it', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 50, duration: 'once' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      trial_period_days: 7,
      discounts: [{ coupon: coupon.id }],
    });
    expect(subscription.discounts).toHaveLength(1);
    await advanceClock(stripe, f.clock.id, T0 + 7 * DAY + GRACE);
    expect((await invoicesOf(subscription.id)).map((i) => i.total)).toEqual([0, 500]);
    expect((await stripe.subscriptions.retrieve(subscription.id)).discounts).toEqual([]);
  });

  it('discounts prorations into their amounts (proration_discounts: included)', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 20, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
    });
    const half = T0 + (31 * DAY) / 2;
    await advanceClock(stripe, f.clock.id, half);
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0].id, price: f.pro.id }],
      proration_behavior: 'always_invoice',
      proration_date: half,
      expand: ['latest_invoice'],
    });
    const invoice = updated.latest_invoice as Stripe.Invoice;
    const id = discountId(subscription);
    // Half of $10 back less 20% (−500 → −400), half of $30 less 20% (1500 → 1200).
    expect(invoice.lines.data.map((l) => [l.amount, l.discounts, l.discount_amounts])).toEqual([
      [-400, [id], [{ amount: 0, discount: id }]],
      [1200, [id], [{ amount: 0, discount: id }]],
    ]);
    expect(invoice).toMatchObject({ subtotal: 800, total: 800, amount_paid: 800 });
  });

  it('replaces and removes discounts on update', async () => {
    const f = await fixture(emulator);
    const first = await stripe.coupons.create({ percent_off: 10, duration: 'forever' });
    const second = await stripe.coupons.create({ percent_off: 30, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: first.id }],
    });
    const swapped = await stripe.subscriptions.update(subscription.id, {
      discounts: [{ coupon: second.id }],
    });
    expect(swapped.discounts).toHaveLength(1);
    expect(swapped.discounts[0]).not.toBe(subscription.discounts[0]);
    await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
    expect((await invoicesOf(subscription.id)).map((i) => i.total)).toEqual([900, 700]);
    const cleared = await stripe.subscriptions.update(subscription.id, { discounts: '' });
    expect(cleared.discounts).toEqual([]);
    const deleted = await eventsOf(stripe, 'customer.discount.deleted');
    expect(deleted.map((e) => objectIdOf(e))).toEqual(
      expect.arrayContaining([discountId(subscription), discountId(swapped)]),
    );
  });

  it('DELETE /v1/subscriptions/:id/discount removes the discount from the next invoice on', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 40, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
    });
    const removed = await stripe.subscriptions.deleteDiscount(subscription.id);
    expect(removed).toMatchObject({ id: discountId(subscription), object: 'discount', deleted: true });
    expect((await stripe.subscriptions.retrieve(subscription.id)).discounts).toEqual([]);
    await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
    expect((await invoicesOf(subscription.id)).map((i) => i.total)).toEqual([600, 1000]);
    expect(await refusal(stripe.subscriptions.deleteDiscount(subscription.id))).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
  });

  it('keeps an existing discount by id and stacks a second one on what the first left', async () => {
    const f = await fixture(emulator);
    const ten = await stripe.coupons.create({ percent_off: 10, duration: 'forever' });
    const thirty = await stripe.coupons.create({ percent_off: 30, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: ten.id }],
    });
    const kept = discountId(subscription);
    await stripe.coupons.del(ten.id);
    const both = await stripe.subscriptions.update(subscription.id, {
      discounts: [{ discount: kept }, { coupon: thirty.id }],
    });
    expect(both.discounts[0]).toBe(kept);
    expect(both.discounts).toHaveLength(2);
    await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
    const renewal = (await invoicesOf(subscription.id))[1];
    // 10% of 1000 = 100, then 30% of the 900 left = 270.
    expect(renewal.total_discount_amounts?.map((d) => d.amount)).toEqual([100, 270]);
    expect(renewal.total).toBe(630);
    const deleted = await eventsOf(stripe, 'customer.discount.deleted');
    expect(deleted.map(objectIdOf)).not.toContain(kept);
    const other = await stripe.customers.create({ email: 'someone@example.com' });
    const theirs = await refusal(
      stripe.subscriptions.create({
        customer: other.id,
        items: [{ price: f.basic.id }],
        discounts: [{ discount: kept }],
      }),
    );
    expect(theirs).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'discounts[0][discount]',
    });
  });
});

describe('currencies', () => {
  it('takes an amount off in the invoice currency from currency_options, and checks minimums per currency', async () => {
    const f = await fixture(emulator);
    const euros = await stripe.prices.create({
      product: f.product.id,
      currency: 'eur',
      unit_amount: 2500,
      recurring: { interval: 'month' },
    });
    const coupon = await stripe.coupons.create({
      amount_off: 500,
      currency: 'usd',
      currency_options: { eur: { amount_off: 450 } },
      duration: 'forever',
    });
    expect(coupon.currency_options).toBeUndefined();
    const expanded = await stripe.coupons.retrieve(coupon.id, { expand: ['currency_options'] });
    expect(expanded.currency_options).toEqual({ eur: { amount_off: 450 } });
    const code = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: coupon.id },
      restrictions: {
        minimum_amount: 2000,
        minimum_amount_currency: 'usd',
        currency_options: { eur: { minimum_amount: 3000 } },
      },
    });
    const belowEuroMinimum = await refusal(
      stripe.subscriptions.create({
        customer: f.customer.id,
        items: [{ price: euros.id }],
        discounts: [{ promotion_code: code.id }],
      }),
    );
    expect(belowEuroMinimum.message).toMatch(/minimum amount/);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: euros.id }],
      discounts: [{ coupon: coupon.id }],
      expand: ['latest_invoice'],
    });
    expect(subscription.latest_invoice).toMatchObject({ currency: 'eur', subtotal: 2500, total: 2050 });
  });
});

describe('invoice previews', () => {
  it('shows the subscription discount on the next invoice, and a proposed code without redeeming it', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 20, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
    });
    const next = await stripe.invoices.createPreview({ subscription: subscription.id });
    expect(next).toMatchObject({ subtotal: 1000, total: 800, amount_due: 800 });
    expect(next.total_discount_amounts).toEqual([{ amount: 200, discount: discountId(subscription) }]);

    const flat = await stripe.coupons.create({ amount_off: 300, currency: 'usd', duration: 'once' });
    const code = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: flat.id },
      code: 'PEEK3',
    });
    const proposed = await stripe.invoices.createPreview({
      subscription: subscription.id,
      discounts: [{ promotion_code: code.id }],
    });
    expect(proposed).toMatchObject({ subtotal: 1000, total: 700 });
    expect((await stripe.promotionCodes.retrieve(code.id)).times_redeemed).toBe(0);
    expect((await stripe.coupons.retrieve(flat.id)).times_redeemed).toBe(0);
  });
});

describe('previews of a subscription not created yet', () => {
  it('previews the first invoice of proposed items with a promotion code, checking its restrictions', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 12.5, duration: 'once' });
    const code = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: coupon.id },
      restrictions: { minimum_amount: 3000, minimum_amount_currency: 'usd' },
    });
    const preview = await stripe.invoices.createPreview({
      customer: f.customer.id,
      subscription_details: { items: [{ price: f.pro.id, quantity: 1 }] },
      discounts: [{ promotion_code: code.id }],
    });
    // 12.5 % of 3000 = 375.
    expect(preview).toMatchObject({
      billing_reason: 'subscription_create',
      subtotal: 3000,
      total: 2625,
      parent: null,
    });
    expect(preview.lines.data[0]).toMatchObject({ amount: 3000, period: { start: T0, end: FEB1 } });
    expect(preview.lines.data[0].discount_amounts?.[0]?.amount).toBe(375);
    const tooSmall = await refusal(
      stripe.invoices.createPreview({
        customer: f.customer.id,
        subscription_details: { items: [{ price: f.basic.id, quantity: 2 }] },
        discounts: [{ promotion_code: code.id }],
      }),
    );
    expect(tooSmall).toMatchObject({ statusCode: 400, param: 'discounts[0][promotion_code]' });
    expect((await stripe.subscriptions.list({ customer: f.customer.id })).data).toEqual([]);
  });
});

describe('refusals', () => {
  it('refuses an exhausted coupon with coupon_expired and writes nothing', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 10, max_redemptions: 1 });
    await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ coupon: coupon.id }],
    });
    expect((await stripe.coupons.retrieve(coupon.id)).valid).toBe(false);
    const before = (await stripe.subscriptions.list({ customer: f.customer.id })).data.length;
    const error = await refusal(
      stripe.subscriptions.create({
        customer: f.customer.id,
        items: [{ price: f.basic.id }],
        discounts: [{ coupon: coupon.id }],
      }),
    );
    expect(error).toMatchObject({ statusCode: 400, code: 'coupon_expired', param: 'discounts[0][coupon]' });
    expect((await stripe.subscriptions.list({ customer: f.customer.id })).data).toHaveLength(before);
  });

  it('refuses inactive, used-up, other-customer, first-time and below-minimum promotion codes', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 10, duration: 'forever' });
    const code = (extra: Partial<Stripe.PromotionCodeCreateParams>) =>
      stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, ...extra });
    const subscribe = (promotionCode: string) =>
      refusal(
        stripe.subscriptions.create({
          customer: f.customer.id,
          items: [{ price: f.basic.id }],
          discounts: [{ promotion_code: promotionCode }],
        }),
      );
    const inactive = await code({ active: false });
    expect((await subscribe(inactive.id)).message).toMatch(/inactive/);
    const other = await stripe.customers.create({ email: 'other@example.com' });
    const theirs = await code({ customer: other.id });
    expect((await subscribe(theirs.id)).message).toMatch(/cannot be redeemed by this customer/);
    const minimum = await code({ restrictions: { minimum_amount: 1500, minimum_amount_currency: 'usd' } });
    expect((await subscribe(minimum.id)).message).toMatch(/minimum amount/);

    const once = await code({ max_redemptions: 1, restrictions: { first_time_transaction: true } });
    const first = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      discounts: [{ promotion_code: once.id }],
      expand: ['latest_invoice'],
    });
    expect((first.latest_invoice as Stripe.Invoice).total).toBe(900);
    expect((await stripe.promotionCodes.retrieve(once.id)).times_redeemed).toBe(1);
    expect((await subscribe(once.id)).message).toMatch(/maximum number of redemptions/);
    const firstTime = await code({ restrictions: { first_time_transaction: true } });
    const refused = await subscribe(firstTime.id);
    expect(refused).toMatchObject({ statusCode: 400, param: 'discounts[0][promotion_code]' });
    expect(refused.message).toMatch(/prior transactions/);
  });

  it('an update refused for another reason redeems nothing', async () => {
    const f = await fixture(emulator);
    const coupon = await stripe.coupons.create({ percent_off: 10 });
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    const refused = await refusal(
      stripe.subscriptions.update(subscription.id, {
        items: [{ id: 'si_missing', price: f.pro.id }],
        discounts: [{ coupon: coupon.id }],
      }),
    );
    expect(refused.statusCode).toBe(400);
    expect((await stripe.coupons.retrieve(coupon.id)).times_redeemed).toBe(0);
    expect((await stripe.subscriptions.retrieve(subscription.id)).discounts).toEqual([]);
    expect(await eventsOf(stripe, 'customer.discount.created')).toEqual([]);
  });

  it('refuses an unknown coupon, and an amount off in another currency', async () => {
    const f = await fixture(emulator);
    const unknown = await refusal(
      stripe.subscriptions.create({
        customer: f.customer.id,
        items: [{ price: f.basic.id }],
        discounts: [{ coupon: 'NOPE' }],
      }),
    );
    expect(unknown).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'discounts[0][coupon]',
    });
    const euros = await stripe.coupons.create({ amount_off: 100, currency: 'eur' });
    const currency = await refusal(
      stripe.subscriptions.create({
        customer: f.customer.id,
        items: [{ price: f.basic.id }],
        discounts: [{ coupon: euros.id }],
      }),
    );
    expect(currency.param).toBe('discounts[0][coupon]');
  });

  it('refuses a coupon past its redeem_by, and a promotion code past its expires_at', async () => {
    const f = await fixture(emulator);
    const soon = Math.floor(Date.now() / 1000) + 3600;
    const coupon = await stripe.coupons.create({ percent_off: 10, redeem_by: soon });
    const code = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: (await stripe.coupons.create({ percent_off: 5 })).id },
      expires_at: T0 + DAY,
    });
    await advanceClock(stripe, f.clock.id, T0 + 2 * DAY);
    expect(
      (
        await refusal(
          stripe.subscriptions.create({
            customer: f.customer.id,
            items: [{ price: f.basic.id }],
            discounts: [{ promotion_code: code.id }],
          }),
        )
      ).message,
    ).toMatch(/expired/);
    await emulator.control('/_emulator/clock/advance', { seconds: 7200 });
    expect((await stripe.coupons.retrieve(coupon.id)).valid).toBe(false);
    const late = await refusal(
      stripe.subscriptions.create({
        customer: f.customer.id,
        items: [{ price: f.basic.id }],
        discounts: [{ coupon: coupon.id }],
      }),
    );
    expect(late.code).toBe('coupon_expired');
  });
});
