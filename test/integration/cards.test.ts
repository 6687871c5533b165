import { BillingCustomer, PaymentMethod } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { fakeEvent } from '../support/webhook-harness';

/**
 * Cards (issue 15, item 1; docs/billing-rules.md, "cards"): added on Stripe's hosted Checkout page in setup mode,
 * chosen with setDefaultPaymentMethod, removed with removePaymentMethod, each scoped to the caller's account,
 * against the emulator with webhooks on (payment_method.*, checkout.session.completed in setup mode).
 */

const ALLOWED = 'http://localhost:3000';
const SETUP = `mutation { createPaymentMethodSetupSession(input: { successUrl: "${ALLOWED}/cards/ok", cancelUrl: "${ALLOWED}/cards" }) { id url } }`;
const CARDS = '{ viewer { paymentMethods { id brand last4 expMonth expYear isDefault } } }';

interface Card {
  id: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  isDefault: boolean;
}

describe('cards: add on the hosted page, choose the default, remove', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED }, { webhooks: true });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  async function stripeCustomerOf(accountId: string): Promise<string> {
    const row = await em().findOneOrFail(BillingCustomer, { accountId });
    return row.stripeCustomerId as string;
  }

  /** What the hosted page does when the user submits `card`; then every webhook is processed. */
  async function addCard(accountId: string, card: string): Promise<void> {
    const gql = await stack.as(accountId);
    const created = await gql<{ createPaymentMethodSetupSession: { id: string; url: string } }>(SETUP);
    expect(created.errors).toBeUndefined();
    const session = created.data?.createPaymentMethodSetupSession as { id: string; url: string };
    const response = await fetch(`${stack.emulator.url}/_emulator/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ card }),
    });
    expect(response.status).toBe(200);
    await stack.flushWebhooks();
  }

  async function cardsOf(accountId: string): Promise<Card[]> {
    const answer = await (await stack.as(accountId))<{ viewer: { paymentMethods: Card[] } }>(CARDS);
    expect(answer.errors).toBeUndefined();
    return answer.data?.viewer.paymentMethods ?? [];
  }

  /** The account subscribed to Starter with one card (the default); its GraphQL client. */
  async function subscribedToStarter(accountId: string) {
    const gql = await stack.as(accountId);
    const subscribed = await gql(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(subscribed.errors).toBeUndefined();
    return gql;
  }

  async function stripeDefaultOf(accountId: string): Promise<string | null> {
    const customer = await stack.stripe.customers.retrieve(await stripeCustomerOf(accountId));
    if (customer.deleted) throw new Error('customer deleted');
    const value = customer.invoice_settings.default_payment_method;
    return typeof value === 'string' ? value : (value?.id ?? null);
  }

  it('a setup session is Checkout in setup mode for the caller’s customer, on an allowed redirect', async () => {
    const gql = await stack.as('acct_cards_session');
    const created = await gql<{ createPaymentMethodSetupSession: { id: string; url: string } }>(SETUP);
    expect(created.errors).toBeUndefined();
    const { id, url } = created.data?.createPaymentMethodSetupSession as { id: string; url: string };
    expect(url).toMatch(/^http/);
    const session = await stack.stripe.checkout.sessions.retrieve(id);
    expect(session).toMatchObject({
      mode: 'setup',
      status: 'open',
      customer: await stripeCustomerOf('acct_cards_session'),
      success_url: `${ALLOWED}/cards/ok`,
    });
    // A double click within the window gets the same open session.
    const again = await gql<{ createPaymentMethodSetupSession: { id: string } }>(SETUP);
    expect(again.data?.createPaymentMethodSetupSession.id).toBe(id);

    const offList = await gql(SETUP.replace(`${ALLOWED}/cards/ok`, 'https://evil.example/steal'));
    expect(offList.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'successUrl' });
  });

  it('a card saved on the hosted page shows in viewer.paymentMethods; after completion a new session is opened', async () => {
    await addCard('acct_cards_add', '4242424242424242');
    expect(await cardsOf('acct_cards_add')).toEqual([
      expect.objectContaining({ brand: 'visa', last4: '4242', isDefault: false }),
    ]);
    // The completed session is not handed back again: the next card gets a session that can still be used.
    await addCard('acct_cards_add', '5555555555554444');
    expect((await cardsOf('acct_cards_add')).map((card) => card.last4).sort()).toEqual(['4242', '4444']);
  });

  it('setDefaultPaymentMethod makes a second card the default in Stripe and in the API, back and forth', async () => {
    const account = 'acct_cards_default';
    await addCard(account, '4242424242424242');
    await addCard(account, '5555555555554444');
    const gql = await stack.as(account);
    const cards = await cardsOf(account);
    const visa = cards.find((card) => card.last4 === '4242') as Card;
    const mastercard = cards.find((card) => card.last4 === '4444') as Card;
    // A → B → A → B: each change reaches Stripe (a replayed key would leave the old default).
    for (const target of [mastercard, visa, mastercard, visa]) {
      const answer = await gql<{ setDefaultPaymentMethod: { paymentMethods: Card[] } }>(
        `mutation { setDefaultPaymentMethod(id: "${target.id}") { paymentMethods { id isDefault } } }`,
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.setDefaultPaymentMethod.paymentMethods.filter((card) => card.isDefault)).toEqual([
        { id: target.id, isDefault: true },
      ]);
      expect(await stripeDefaultOf(account)).toBe(target.id);
    }
    // The webhooks that follow (customer and card events) leave the same one default.
    await stack.flushWebhooks();
    expect((await cardsOf(account)).filter((card) => card.isDefault).map((card) => card.id)).toEqual([
      visa.id,
    ]);
  });

  it('a card of another customer, or no card at all, is NOT_FOUND and changes nothing', async () => {
    await addCard('acct_cards_owner', '4242424242424242');
    const [theirs] = await cardsOf('acct_cards_owner');
    await addCard('acct_cards_other', '5555555555554444');
    const other = await stack.as('acct_cards_other');
    for (const id of [theirs.id, 'pm_does_not_exist', 'not-a-card']) {
      for (const mutation of ['setDefaultPaymentMethod', 'removePaymentMethod']) {
        const answer = await other(`mutation { ${mutation}(id: "${id}") { id } }`);
        expect(answer.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      }
    }
    expect(await cardsOf('acct_cards_owner')).toEqual([expect.objectContaining({ id: theirs.id })]);
    expect(await stripeDefaultOf('acct_cards_owner')).toBeNull();
    // An account with no customer at all has no cards either.
    const stranger = await stack.as('acct_cards_stranger');
    expect(
      (await stranger(`mutation { removePaymentMethod(id: "${theirs.id}") { id } }`)).errors?.[0]?.extensions
        ?.code,
    ).toBe('NOT_FOUND');
  });

  it('the only card of a renewing subscription cannot be removed; with two, removing the default moves it', async () => {
    const account = 'acct_cards_subscribed';
    const gql = await subscribedToStarter(account);
    await stack.flushWebhooks();
    const [only] = await cardsOf(account);
    expect(only).toMatchObject({ isDefault: true });

    const refused = await gql(`mutation { removePaymentMethod(id: "${only.id}") { id } }`);
    expect(refused.errors?.[0]?.extensions?.code).toBe('LAST_PAYMENT_METHOD');
    expect((await stack.stripe.paymentMethods.retrieve(only.id)).customer).toBe(
      await stripeCustomerOf(account),
    );

    await addCard(account, '5555555555554444');
    const second = (await cardsOf(account)).find((card) => card.id !== only.id) as Card;
    const removed = await gql<{ removePaymentMethod: { paymentMethods: Card[] } }>(
      `mutation { removePaymentMethod(id: "${only.id}") { paymentMethods { id isDefault } } }`,
    );
    expect(removed.errors).toBeUndefined();
    expect(removed.data?.removePaymentMethod.paymentMethods).toEqual([{ id: second.id, isDefault: true }]);
    expect((await stack.stripe.paymentMethods.retrieve(only.id)).customer).toBeNull();
    expect(await stripeDefaultOf(account)).toBe(second.id);
    await stack.flushWebhooks();
    expect(await em().count(PaymentMethod, { accountId: account })).toBe(1);
    // The renewal is charged to the card that is left.
    const subscription = (
      await stack.stripe.subscriptions.list({ customer: await stripeCustomerOf(account) })
    ).data[0];
    const chargedTo = subscription.default_payment_method ?? (await stripeDefaultOf(account));
    expect(typeof chargedTo === 'string' ? chargedTo : chargedTo?.id).toBe(second.id);
  });

  it('row 86: the last card removed while the subscription was set to cancel; resuming it then is LAST_PAYMENT_METHOD', async () => {
    const account = 'acct_cards_cancel_remove_resume';
    const gql = await subscribedToStarter(account);
    await stack.flushWebhooks();
    const [only] = await cardsOf(account);
    const cancelled = await gql('mutation { cancelSubscription(input: { atPeriodEnd: true }) { id } }');
    expect(cancelled.errors).toBeUndefined();
    // Set to cancel, it no longer renews: its last card may go.
    const removed = await gql(`mutation { removePaymentMethod(id: "${only.id}") { id } }`);
    expect(removed.errors).toBeUndefined();
    await stack.flushWebhooks();
    // Resumed now, it would renew with nothing to charge: refused until a card is added, and it stays set to cancel.
    const resumed = await gql('mutation { resumeSubscription { cancelAtPeriodEnd } }');
    expect(resumed.errors?.[0]?.extensions?.code).toBe('LAST_PAYMENT_METHOD');
    const [subscription] = (
      await stack.stripe.subscriptions.list({ customer: await stripeCustomerOf(account) })
    ).data;
    expect(subscription.cancel_at_period_end).toBe(true);
    // A card saved on the hosted page is not charged until it is made the default.
    await addCard(account, '4242424242424242');
    const [added] = await cardsOf(account);
    const notYet = await gql('mutation { resumeSubscription { cancelAtPeriodEnd } }');
    expect(notYet.errors?.[0]?.extensions?.code).toBe('LAST_PAYMENT_METHOD');
    const chosen = await gql(`mutation { setDefaultPaymentMethod(id: "${added.id}") { id } }`);
    expect(chosen.errors).toBeUndefined();
    const again = await gql<{ resumeSubscription: { cancelAtPeriodEnd: boolean } }>(
      'mutation { resumeSubscription { cancelAtPeriodEnd } }',
    );
    expect(again.errors).toBeUndefined();
    expect(again.data?.resumeSubscription.cancelAtPeriodEnd).toBe(false);
  });

  it('both cards of a renewing subscription removed at once: one at most goes, the subscription keeps a card', async () => {
    const account = 'acct_cards_remove_race';
    const gql = await subscribedToStarter(account);
    await addCard(account, '5555555555554444');
    const cards = await cardsOf(account);
    expect(cards).toHaveLength(2);
    const answers = await Promise.all(
      cards.map((card) => gql(`mutation { removePaymentMethod(id: "${card.id}") { id } }`)),
    );
    const codes = answers.map((answer) => answer.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((code) => code === 'OK').length).toBeLessThanOrEqual(1);
    await stack.flushWebhooks();
    const left = await stack.stripe.customers.listPaymentMethods(await stripeCustomerOf(account), {
      type: 'card',
    });
    expect(left.data.length).toBeGreaterThanOrEqual(1);
    const charged = await stripeDefaultOf(account);
    expect(left.data.map((card) => card.id)).toContain(charged);
  });

  it('a card without a subscription can be removed, last or not', async () => {
    const account = 'acct_cards_free';
    await addCard(account, '4242424242424242');
    const [card] = await cardsOf(account);
    const gql = await stack.as(account);
    const removed = await gql<{ removePaymentMethod: { paymentMethods: Card[] } }>(
      `mutation { removePaymentMethod(id: "${card.id}") { paymentMethods { id } } }`,
    );
    expect(removed.errors).toBeUndefined();
    expect(removed.data?.removePaymentMethod.paymentMethods).toEqual([]);
    // A retry of the same removal finds no card of the account.
    const retried = await gql(`mutation { removePaymentMethod(id: "${card.id}") { id } }`);
    expect(retried.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('checkout.session.completed of a setup session stores the card it saved (if payment_method.attached was lost)', async () => {
    const account = 'acct_cards_setup_event';
    await addCard(account, '4242424242424242');
    const [card] = await cardsOf(account);
    // As if the attach event never came: the row is gone, and only the completed session is delivered.
    await em().nativeDelete(PaymentMethod, { accountId: account });
    expect(await cardsOf(account)).toEqual([]);
    const customerId = await stripeCustomerOf(account);
    const completed = (
      await stack.stripe.events.list({ type: 'checkout.session.completed', limit: 100 })
    ).data.find((event) => (event.data.object as { customer?: string }).customer === customerId);
    expect(completed).toBeDefined();
    const delivered = await stack.deliverWebhook({
      ...(completed as object),
      id: `${completed?.id}_again`,
    } as { id: string });
    expect(delivered).toMatchObject({ status: 200, settled: 'processed' });
    expect(await cardsOf(account)).toEqual([expect.objectContaining({ id: card.id, last4: '4242' })]);
  });

  it('a card changed in Stripe (payment_method.updated) is changed in the API', async () => {
    const account = 'acct_cards_updated';
    await addCard(account, '4242424242424242');
    const [card] = await cardsOf(account);
    await stack.stripe.paymentMethods.update(card.id, { card: { exp_month: 7, exp_year: 2039 } });
    await stack.flushWebhooks();
    expect(await cardsOf(account)).toEqual([
      expect.objectContaining({ id: card.id, expMonth: 7, expYear: 2039 }),
    ]);
  });

  it('a page using Stripe Elements gets a SetupIntent to confirm; the card it saves shows, a 3-D Secure one once approved', async () => {
    const account = 'acct_cards_elements';
    const gql = await stack.as(account);
    const INTENT = 'mutation { createPaymentMethodSetupIntent { id clientSecret } }';
    const created = await gql<{ createPaymentMethodSetupIntent: { id: string; clientSecret: string } }>(
      INTENT,
    );
    expect(created.errors).toBeUndefined();
    const intent = created.data?.createPaymentMethodSetupIntent as { id: string; clientSecret: string };
    const setupIntent = await stack.stripe.setupIntents.retrieve(intent.id);
    expect(setupIntent).toMatchObject({
      customer: await stripeCustomerOf(account),
      usage: 'off_session',
      status: 'requires_payment_method',
      client_secret: intent.clientSecret,
    });
    // A double click: the same intent while it can still be confirmed.
    const again = await gql<{ createPaymentMethodSetupIntent: { id: string } }>(INTENT);
    expect(again.data?.createPaymentMethodSetupIntent.id).toBe(intent.id);

    // What Stripe.js does with the secret: confirm the intent with the card the customer typed.
    await stack.stripe.setupIntents.confirm(intent.id, { payment_method: 'pm_card_mastercard' });
    await stack.flushWebhooks();
    expect(await cardsOf(account)).toEqual([expect.objectContaining({ brand: 'mastercard', last4: '4444' })]);

    // That intent is used up: the next ask is a new one, and a card whose bank asks is saved once approved.
    const next = await gql<{ createPaymentMethodSetupIntent: { id: string } }>(INTENT);
    const nextId = next.data?.createPaymentMethodSetupIntent.id as string;
    expect(nextId).not.toBe(intent.id);
    const asked = await stack.stripe.setupIntents.confirm(nextId, {
      payment_method: 'pm_card_authenticationRequired',
      return_url: `${ALLOWED}/cards`,
    });
    expect(asked.status).toBe('requires_action');
    await stack.flushWebhooks();
    expect(await cardsOf(account)).toHaveLength(1);
    const approved = await fetch(`${stack.emulator.url}/_emulator/setup_intents/${nextId}/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'succeed' }),
    });
    expect(approved.status).toBe(200);
    await stack.flushWebhooks();
    expect((await cardsOf(account)).map((card) => card.last4).sort()).toEqual(['3184', '4444']);
  });

  it('a card the network renewed (payment_method.automatically_updated) is read again from Stripe', async () => {
    // Stripe's card account updater sends this event alone when the network replaces a saved card's expiry
    // (https://docs.stripe.com/api/events/types#event_types-payment_method.automatically_updated); the emulator
    // does not emulate the updater, so the row is made stale and the event is delivered as Stripe would send it.
    const account = 'acct_cards_network_update';
    await addCard(account, '4242424242424242');
    const [card] = await cardsOf(account);
    const stripeCard = await stack.stripe.paymentMethods.retrieve(card.id);
    await em().nativeUpdate(
      PaymentMethod,
      { stripePaymentMethodId: card.id },
      { expMonth: 1, expYear: 2001 },
    );
    expect(await cardsOf(account)).toEqual([expect.objectContaining({ expMonth: 1, expYear: 2001 })]);
    const delivered = await stack.deliverWebhook(
      fakeEvent('payment_method.automatically_updated', stripeCard),
    );
    expect(delivered).toMatchObject({ status: 200, settled: 'processed' });
    expect(await cardsOf(account)).toEqual([
      expect.objectContaining({
        id: card.id,
        expMonth: stripeCard.card?.exp_month,
        expYear: stripeCard.card?.exp_year,
      }),
    ]);
  });
});
