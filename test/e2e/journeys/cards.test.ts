/**
 * Journey: a subscriber adds a second card on Stripe's hosted page (Checkout in setup mode), makes it the
 * default on the billing page and removes the first (the last card of a renewing subscription cannot go); the next bill shows the plan fee with its date, and an invoice opens in full.
 * A card whose bank asks (3-D Secure) is added once the challenge on the hosted page is passed, and not when failed.
 */
import { BillingCustomer, PaymentMethod } from '../../../src/entities';
import { describeJourney, payOnCheckoutPage, waitForText } from './journey';

describeJourney('journey: cards and bills', (journey) => {
  it('adds a second card, makes it the default, removes the first (not the last), and shows the next bill and an invoice', async () => {
    const accountId = 'acct_journey_cards';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    // A Professional subscriber with a Visa card (subscribed through the API, as another journey does it by page).
    const gql = await journey.stack.as(accountId);
    const subscribed = await gql(
      'mutation { createSubscription(input: { planKey: "professional", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(subscribed.errors).toBeUndefined();
    await journey.stack.flushWebhooks();
    await waitForText(page, '[data-card="4242"]', /Visa •••• 4242/);
    await waitForText(page, '#invoices [data-status="paid"]', /\$49\.00/);
    await page.reload();
    await page.waitForSelector('body[data-live="true"]');
    await waitForText(page, '#next-bill-total', /^\$49\.00$/);

    // Add a Mastercard on the hosted page; back on the billing page it is listed, not (yet) the default.
    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#add-card')]);
    expect(await page.textContent('#submit')).toBe('Save card');
    await payOnCheckoutPage(page, '5555 5555 5555 4444');
    await page.waitForURL(/\/billing\/\?card=added/);
    await page.waitForSelector('body[data-live="true"]');
    await waitForText(page, '[data-card="4444"]', /Mastercard •••• 4444/);
    expect(await page.getAttribute('[data-card="4444"]', 'data-default')).toBe('false');
    expect(await page.getAttribute('[data-card="4242"]', 'data-default')).toBe('true');

    // Make it the default: the page shows it, and Stripe charges it next.
    await page.click('[data-card="4444"] .make-default');
    await page.waitForSelector('[data-card="4444"][data-default="true"]');
    expect(await page.getAttribute('[data-card="4242"]', 'data-default')).toBe('false');
    const customer = await journey.stack.app.orm.em.fork().findOneOrFail(BillingCustomer, { accountId });
    const inStripe = await journey.stack.stripe.customers.retrieve(customer.stripeCustomerId as string);
    if (inStripe.deleted) throw new Error('customer deleted');
    const chosen = await journey.stack.stripe.paymentMethods.retrieve(
      String(inStripe.invoice_settings.default_payment_method),
    );
    expect(chosen.card?.last4).toBe('4444');

    // Remove the old Visa: gone from the page and from Stripe. The Mastercard, now the only card of a subscription
    // that renews, cannot be removed: the page says why (LAST_PAYMENT_METHOD) and keeps it.
    await page.click('[data-card="4242"] .remove-card');
    await page.locator('[data-card="4242"]').waitFor({ state: 'detached' });
    const saved = await journey.stack.stripe.customers.listPaymentMethods(
      customer.stripeCustomerId as string,
    );
    expect(saved.data.map((card) => card.card?.last4)).toEqual(['4444']);
    await page.click('[data-card="4444"] .remove-card');
    await waitForText(page, '#error', /only card of a subscription that renews: add another card first/);
    expect(await page.getAttribute('[data-card="4444"]', 'data-default')).toBe('true');

    // The first invoice in full.
    await page.click('#invoices .show-invoice');
    await waitForText(page, '#invoice-details #invoice-total', /^\$49\.00$/);
    await waitForText(page, '#invoice-details .line', /Professional/);
    await journey.screenshot(page, 'cards-and-bills');
  });

  it('adds a card whose bank asks (3-D Secure) after the challenge on the hosted page; a failed one adds nothing', async () => {
    const accountId = 'acct_journey_cards_3ds';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    const gql = await journey.stack.as(accountId);
    const subscribed = await gql(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(subscribed.errors).toBeUndefined();
    await journey.stack.flushWebhooks();
    await waitForText(page, '[data-card="4242"]', /Visa •••• 4242/);

    // The bank's challenge comes before the card is saved; failing it shows the form again, nothing saved.
    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#add-card')]);
    await Promise.all([page.waitForURL(/\/authenticate$/), payOnCheckoutPage(page, '4000 0027 6000 3184')]);
    await Promise.all([page.waitForSelector('#error'), page.click('#fail')]);
    expect(await page.textContent('#error')).toMatch(/unable to authenticate/);
    // Approved the second time: back on the billing page, the card is listed.
    await Promise.all([page.waitForURL(/\/authenticate$/), payOnCheckoutPage(page, '4000 0027 6000 3184')]);
    await Promise.all([page.waitForURL(/\/billing\/\?card=added/), page.click('#complete')]);
    await page.waitForSelector('body[data-live="true"]');
    await waitForText(page, '[data-card="3184"]', /•••• 3184/);
    const cards = await journey.stack.app.orm.em.fork().find(PaymentMethod, { accountId });
    expect(cards.map((card) => card.last4).sort()).toEqual(['3184', '4242']);
    await journey.screenshot(page, 'cards-3d-secure');
  });
});
