import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSchema } from 'graphql';
import { BillingCustomer, EntitlementOverride } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { connectSocket } from '../support/ws-client';
import { expectCleanError } from '../support/hostile';

/**
 * Who may do what (issue 8): every query, mutation and subscription of schema.graphql, for every kind of
 * caller. The operation list is read from the schema when the test runs, so a new operation without an entry
 * here fails the first test, naming it. Caller A owns the data (a customer, a subscription, a Checkout
 * Session, usage); B is another user pointing at A's data wherever an operation takes an account or an id.
 *
 * Outcomes: `ok` (no error; the answer is about the account it should be), or the code the design gives:
 * UNAUTHENTICATED without a token, FORBIDDEN for a role or account the caller lacks, NOT_FOUND/CONFLICT when
 * the caller may ask but its own account has nothing of the kind (proof it reached its own data, not A's).
 */

type CallerName = 'anonymous' | 'userA' | 'userB' | 'service' | 'admin';
type Outcome =
  | 'ok'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_USER_INPUT'
  | 'LAST_PAYMENT_METHOD'
  | 'PROMOTION_CODE_NOT_APPLICABLE';
const CALLERS: CallerName[] = ['anonymous', 'userA', 'userB', 'service', 'admin'];

const ALLOWED = 'http://localhost:3000';
const A = 'acct_matrix_a';
const B = 'acct_matrix_b';
const ACCOUNT_OF: Record<Exclude<CallerName, 'anonymous'>, string> = {
  userA: A,
  userB: B,
  service: 'svc_ai_gateway',
  admin: 'acct_matrix_ops',
};

interface Fixture {
  checkoutSessionId: string;
  /** A's only card (the one its subscription is charged to). */
  cardId: string;
}

interface MatrixEntry {
  document: (fixture: Fixture, caller: CallerName) => string;
  expect: Record<CallerName, Outcome>;
  /** For `ok`: checks that the answer is about the right account. */
  owns?: (data: Record<string, unknown>, caller: CallerName) => void;
}

/** Everybody: public fields answer without a token. */
const PUBLIC: Record<CallerName, Outcome> = {
  anonymous: 'ok',
  userA: 'ok',
  userB: 'ok',
  service: 'ok',
  admin: 'ok',
};
/** Any signed-in caller, on its own account. */
const SIGNED_IN: Record<CallerName, Outcome> = { ...PUBLIC, anonymous: 'UNAUTHENTICATED' };
const ADMIN_ONLY: Record<CallerName, Outcome> = {
  anonymous: 'UNAUTHENTICATED',
  userA: 'FORBIDDEN',
  userB: 'FORBIDDEN',
  service: 'FORBIDDEN',
  admin: 'ok',
};

const ownAccount = (caller: CallerName) => ACCOUNT_OF[caller as Exclude<CallerName, 'anonymous'>];
let sequence = 0;
const uniqueKey = (caller: CallerName) => `matrix-${caller}-${++sequence}`;

/** In the order they run: queries first, then mutations (cancel before resume), then subscriptions. */
const MATRIX: Record<string, MatrixEntry> = {
  'Query.viewer': {
    document: () =>
      '{ viewer { id plan { key } customer { id } subscription { id } balance { credits } creditLedger(first: 5) { nodes { id } } memberUsage(first: 5) { nodes { memberId } } spendLimit { monthlyCents } } }',
    expect: SIGNED_IN,
    owns: (data, caller) => expect(data.viewer).toMatchObject({ id: ownAccount(caller) }),
  },
  'Query.account': {
    document: () =>
      `{ account(id: "${A}") { id plan { key } customer { id } subscription { id } balance { credits } memberUsage { nodes { memberId } } spendLimit { monthlyCents } lowBalanceAlert { belowCredits } } }`,
    // Reading an account by id is for the admin and the AI gateway, even for the account's own user.
    expect: { ...ADMIN_ONLY, service: 'ok' },
    owns: (data) => expect(data.account).toMatchObject({ id: A, plan: { key: 'professional' } }),
  },
  'Query.accounts': {
    document: () => '{ accounts(first: 100) { nodes { id } } }',
    expect: ADMIN_ONLY,
    owns: (data) =>
      expect((data.accounts as { nodes: Array<{ id: string }> }).nodes).toContainEqual({ id: A }),
  },
  'Query.checkoutSession': {
    document: ({ checkoutSessionId }) => `{ checkoutSession(id: "${checkoutSessionId}") { id status } }`,
    expect: { ...ADMIN_ONLY, userA: 'ok' },
  },
  'Query.plans': { document: () => '{ plans { key } }', expect: PUBLIC },
  'Query.addons': { document: () => '{ addons { key } }', expect: PUBLIC },
  'Query.creditPacks': { document: () => '{ creditPacks { key price { amount } } }', expect: PUBLIC },
  'Query.modelPrices': { document: () => '{ modelPrices { model } }', expect: PUBLIC },
  'Query.revenueSummary': { document: () => '{ revenueSummary { mrr currency } }', expect: ADMIN_ONLY },
  'Query.serviceInfo': { document: () => '{ serviceInfo { name } }', expect: PUBLIC },
  'Query.previewSubscriptionChange': {
    document: () => '{ previewSubscriptionChange(input: { planKey: "starter" }) { amountDue } }',
    // Only the caller's own subscription can be previewed: the others have none.
    expect: { ...SIGNED_IN, userB: 'NOT_FOUND', service: 'NOT_FOUND', admin: 'NOT_FOUND' },
  },
  'Query.webhookEvents': {
    document: () => '{ webhookEvents(first: 5) { nodes { id } } }',
    expect: ADMIN_ONLY,
  },

  'Mutation.createCheckoutSession': {
    document: () =>
      `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
    // Always for the caller's own account: A already has a subscription, the others get their own checkout.
    expect: { ...SIGNED_IN, userA: 'CONFLICT' },
  },
  'Mutation.createPortalSession': {
    document: () => `mutation { createPortalSession(input: { returnUrl: "${ALLOWED}/billing" }) { url } }`,
    expect: SIGNED_IN,
  },
  'Mutation.createPaymentMethodSetupSession': {
    document: () =>
      `mutation { createPaymentMethodSetupSession(input: { successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
    expect: SIGNED_IN,
  },
  'Mutation.createPaymentMethodSetupIntent': {
    document: () => 'mutation { createPaymentMethodSetupIntent { id } }',
    expect: SIGNED_IN,
  },
  'Mutation.setDefaultPaymentMethod': {
    // A's card: only A reaches it; for everyone else it is not a card of theirs.
    document: (fixture) => `mutation { setDefaultPaymentMethod(id: "${fixture.cardId}") { id } }`,
    expect: { ...SIGNED_IN, userB: 'NOT_FOUND', service: 'NOT_FOUND', admin: 'NOT_FOUND' },
    owns: (data) => expect(data.setDefaultPaymentMethod).toEqual({ id: A }),
  },
  'Mutation.removePaymentMethod': {
    // A reaches its card, whose removal is refused (the only card of a subscription that renews).
    document: (fixture) => `mutation { removePaymentMethod(id: "${fixture.cardId}") { id } }`,
    expect: {
      anonymous: 'UNAUTHENTICATED',
      userA: 'LAST_PAYMENT_METHOD',
      userB: 'NOT_FOUND',
      service: 'NOT_FOUND',
      admin: 'NOT_FOUND',
    },
  },
  'Mutation.refundInvoice': {
    // Admins only. This stack stores no invoices (no webhooks), so the admin reaches the lookup and finds none.
    document: () =>
      'mutation { refundInvoice(input: { invoiceId: "in_matrix_none", amount: 100, idempotencyKey: "matrix" }) { total } }',
    expect: { ...ADMIN_ONLY, admin: 'NOT_FOUND' },
  },
  'Mutation.updateCustomer': {
    document: (_fixture, caller) =>
      `mutation { updateCustomer(input: { name: "set by ${caller}" }) { name } }`,
    expect: SIGNED_IN,
    owns: (data, caller) => expect(data.updateCustomer).toEqual({ name: `set by ${caller}` }),
  },
  'Mutation.addTaxId': {
    // On the caller's own customer (made on first use); Stripe checks the number.
    document: () => 'mutation { addTaxId(input: { type: eu_vat, value: "DE123456789" }) { value } }',
    expect: SIGNED_IN,
    owns: (data) => expect(data.addTaxId).toEqual({ value: 'DE123456789' }),
  },
  'Mutation.removeTaxId': {
    // Only an id the caller's own customer holds: any other is NOT_FOUND, whoever asks.
    document: () => 'mutation { removeTaxId(id: "txi_held_by_nobody_here") }',
    expect: {
      ...SIGNED_IN,
      userA: 'NOT_FOUND',
      userB: 'NOT_FOUND',
      service: 'NOT_FOUND',
      admin: 'NOT_FOUND',
    },
  },
  'Mutation.createSubscription': {
    // Naming A: B and the service are refused; A and the admin reach A, which already has one.
    document: () =>
      `mutation { createSubscription(input: { planKey: "starter", withTrial: true, accountId: "${A}" }) { id } }`,
    expect: {
      anonymous: 'UNAUTHENTICATED',
      userA: 'CONFLICT',
      userB: 'FORBIDDEN',
      service: 'FORBIDDEN',
      admin: 'CONFLICT',
    },
  },
  'Mutation.changeSubscription': {
    document: () =>
      'mutation { changeSubscription(input: { planKey: "starter", applyAt: PERIOD_END }) { plan { key } scheduledChange { plan { key } } } }',
    // The caller's own subscription only: the others have none.
    expect: { ...SIGNED_IN, userB: 'NOT_FOUND', service: 'NOT_FOUND', admin: 'NOT_FOUND' },
  },
  'Mutation.applyPromotionCode': {
    document: () => 'mutation { applyPromotionCode(input: { code: "NOSUCHCODE" }) { id } }',
    // The caller's own subscription only (A's refuses a code Stripe does not know); the others have none.
    expect: {
      ...SIGNED_IN,
      userA: 'PROMOTION_CODE_NOT_APPLICABLE',
      userB: 'NOT_FOUND',
      service: 'NOT_FOUND',
      admin: 'NOT_FOUND',
    },
  },
  'Mutation.addAddon': {
    document: () => 'mutation { addAddon(input: { key: "priority_support" }) { id } }',
    // The caller's own subscription only: A's is on Professional (which may not carry it), the others have none;
    // each is refused before anything is written.
    expect: {
      ...SIGNED_IN,
      userA: 'BAD_USER_INPUT',
      userB: 'BAD_USER_INPUT',
      service: 'BAD_USER_INPUT',
      admin: 'BAD_USER_INPUT',
    },
  },
  'Mutation.removeAddon': {
    document: () => 'mutation { removeAddon(key: "extra_storage_10gb") { id } }',
    // Nobody's subscription carries it.
    expect: {
      ...SIGNED_IN,
      userA: 'BAD_USER_INPUT',
      userB: 'BAD_USER_INPUT',
      service: 'BAD_USER_INPUT',
      admin: 'BAD_USER_INPUT',
    },
  },
  'Mutation.setSeats': {
    // Naming A's account: A's own (refused past professional's 100 seats, before any write), and support acting
    // for A; nobody else may.
    document: () => `mutation { setSeats(input: { quantity: 101, accountId: "${A}" }) { id } }`,
    expect: {
      ...SIGNED_IN,
      userA: 'BAD_USER_INPUT',
      userB: 'FORBIDDEN',
      service: 'FORBIDDEN',
      admin: 'BAD_USER_INPUT',
    },
  },
  'Mutation.endTrial': {
    document: () => 'mutation { endTrial { status } }',
    // A's subscription is not in a trial; the others have none.
    expect: {
      ...SIGNED_IN,
      userA: 'BAD_USER_INPUT',
      userB: 'NOT_FOUND',
      service: 'NOT_FOUND',
      admin: 'NOT_FOUND',
    },
  },
  'Mutation.cancelSubscription': {
    document: () => 'mutation { cancelSubscription(input: { atPeriodEnd: true }) { cancelAtPeriodEnd } }',
    expect: { ...SIGNED_IN, userB: 'NOT_FOUND', service: 'NOT_FOUND', admin: 'NOT_FOUND' },
  },
  'Mutation.resumeSubscription': {
    document: () => 'mutation { resumeSubscription { cancelAtPeriodEnd } }',
    expect: { ...SIGNED_IN, userB: 'NOT_FOUND', service: 'NOT_FOUND', admin: 'NOT_FOUND' },
  },
  'Mutation.recordUsage': {
    document: (_fixture, caller) =>
      `mutation { recordUsage(input: { metric: "ai_requests", quantity: 1, idempotencyKey: "${uniqueKey(caller)}", accountId: "${A}" }) { usage { used } } }`,
    // Recording for another account is for the service role (and admins).
    expect: { ...SIGNED_IN, userB: 'FORBIDDEN' },
  },
  'Mutation.recordUsageBatch': {
    document: (_fixture, caller) =>
      `mutation { recordUsageBatch(input: [{ metric: "ai_requests", quantity: 1, idempotencyKey: "${uniqueKey(caller)}", accountId: "${A}" }]) { duplicate } }`,
    expect: { ...SIGNED_IN, userB: 'FORBIDDEN' },
  },
  'Mutation.reserveUsage': {
    document: (_fixture, caller) =>
      `mutation { reserveUsage(input: { metric: "ai_requests", quantity: 1, idempotencyKey: "${uniqueKey(caller)}", accountId: "${A}", ttlSeconds: 5 }) { id } }`,
    expect: { ...SIGNED_IN, userB: 'FORBIDDEN' },
  },
  'Mutation.commitUsage': {
    // No such reservation: the callers who may commit for A get as far as looking it up.
    document: () =>
      `mutation { commitUsage(input: { reservationId: "00000000-0000-4000-8000-000000000000", quantity: 1, accountId: "${A}" }) { duplicate } }`,
    expect: {
      anonymous: 'UNAUTHENTICATED',
      userA: 'NOT_FOUND',
      userB: 'FORBIDDEN',
      service: 'NOT_FOUND',
      admin: 'NOT_FOUND',
    },
  },
  'Mutation.releaseUsage': {
    document: () =>
      `mutation { releaseUsage(input: { reservationId: "00000000-0000-4000-8000-000000000000", accountId: "${A}" }) }`,
    expect: {
      anonymous: 'UNAUTHENTICATED',
      userA: 'NOT_FOUND',
      userB: 'FORBIDDEN',
      service: 'NOT_FOUND',
      admin: 'NOT_FOUND',
    },
  },
  'Mutation.setEntitlementOverride': {
    document: (_fixture, caller) =>
      `mutation { setEntitlementOverride(input: { accountId: "${A}", feature: "api_access", enabled: true, note: "by ${caller}" }) }`,
    expect: ADMIN_ONLY,
  },
  'Mutation.removeEntitlementOverride': {
    document: () => `mutation { removeEntitlementOverride(accountId: "${A}", feature: "api_access") }`,
    expect: ADMIN_ONLY,
  },
  'Mutation.grantCredits': {
    document: (_fixture, caller) =>
      `mutation { grantCredits(input: { accountId: "${A}", credits: 100, reason: "by ${caller}", idempotencyKey: "${uniqueKey(caller)}" }) { duplicate } }`,
    expect: ADMIN_ONLY,
    owns: (data) => expect(data.grantCredits).toEqual({ duplicate: false }),
  },
  'Mutation.setMemberLimit': {
    document: (_fixture, caller) =>
      `mutation { setMemberLimit(input: { accountId: "${A}", memberId: "member-${caller}", monthlyCredits: 100 }) { memberId monthlyCredits } }`,
    // The account's own people and admins; the calling service names members but never sets their budget.
    expect: { ...ADMIN_ONLY, userA: 'ok' },
    owns: (data, caller) =>
      expect(data.setMemberLimit).toEqual({ memberId: `member-${caller}`, monthlyCredits: 100 }),
  },
  'Mutation.setSpendLimit': {
    document: () =>
      `mutation { setSpendLimit(input: { accountId: "${A}", monthlyCents: 5000 }) { monthlyCents currency } }`,
    // The account's own people and admins; the calling service spends the credits but never sets the limit.
    expect: { ...ADMIN_ONLY, userA: 'ok' },
    owns: (data) => expect(data.setSpendLimit).toEqual({ monthlyCents: 5000, currency: 'usd' }),
  },
  'Mutation.createCreditCheckoutSession': {
    // Always for the caller's own account (no account argument): each caller gets a session for its own customer.
    document: () =>
      `mutation { createCreditCheckoutSession(input: { packKey: "credits_10k", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { sessionId } }`,
    expect: SIGNED_IN,
  },
  'Mutation.purchaseCredits': {
    // Charges the caller's own saved card: A has one (its subscription's); the others have none to charge.
    document: (_fixture, caller) =>
      `mutation { purchaseCredits(input: { packKey: "credits_10k", idempotencyKey: "${uniqueKey(caller)}" }) { status balance { credits } } }`,
    expect: {
      anonymous: 'UNAUTHENTICATED',
      userA: 'ok',
      userB: 'BAD_USER_INPUT',
      service: 'BAD_USER_INPUT',
      admin: 'BAD_USER_INPUT',
    },
    owns: (data) => expect(data.purchaseCredits).toMatchObject({ status: 'PAID' }),
  },
  'Mutation.setAutoTopUp': {
    // Always the caller's own account (no account argument); off here, so nothing is charged.
    document: () =>
      'mutation { setAutoTopUp(input: { enabled: false, belowCredits: 100, packKey: "credits_10k" }) { enabled packKey } }',
    expect: SIGNED_IN,
    owns: (data) => expect(data.setAutoTopUp).toEqual({ enabled: false, packKey: 'credits_10k' }),
  },
  'Mutation.setLowBalanceAlert': {
    // Always the caller's own account (no account argument).
    document: () =>
      'mutation { setLowBalanceAlert(input: { belowCredits: 100 }) { belowCredits isDefault } }',
    expect: SIGNED_IN,
    owns: (data) => expect(data.setLowBalanceAlert).toEqual({ belowCredits: 100, isDefault: false }),
  },
  'Mutation.replayWebhookEvent': {
    // The inbox is empty here: the admin gets as far as looking the event up.
    document: () => 'mutation { replayWebhookEvent(id: "evt_matrix_missing") { id } }',
    expect: { ...ADMIN_ONLY, admin: 'NOT_FOUND' },
  },
  'Mutation.resyncAccount': {
    document: () => `mutation { resyncAccount(accountId: "${A}") { id plan { key } } }`,
    expect: ADMIN_ONLY,
    owns: (data) => expect(data.resyncAccount).toMatchObject({ id: A }),
  },

  'Subscription.accountUpdated': {
    document: () => `subscription { accountUpdated(accountId: "${A}") { id } }`,
    // Following another account is for admins; A may name its own.
    expect: { ...SIGNED_IN, userB: 'FORBIDDEN', service: 'FORBIDDEN' },
  },
  'Subscription.balanceUpdated': {
    // No account argument: always the caller's own credits.
    document: () => 'subscription { balanceUpdated { credits available } }',
    expect: SIGNED_IN,
  },
  'Subscription.usageUpdated': {
    // No account argument: always the caller's own usage (checked below: nobody else receives A's).
    document: () => 'subscription { usageUpdated(metric: "ai_requests") { metric used } }',
    expect: SIGNED_IN,
  },
};

interface Answer {
  status?: number;
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** One message (a result, or the error graphql-ws sends), or `running` when the operation is live and quiet. */
function openSocketOperation(
  url: string,
  token: string | null,
  query: string,
): { first: Promise<Answer | 'running'>; next: () => Promise<Answer>; close: () => Promise<void> } {
  const client = connectSocket(url, token ? `Bearer ${token}` : undefined);
  const queue: Answer[] = [];
  const waiters: Array<(answer: Answer) => void> = [];
  const push = (answer: Answer) => {
    const waiter = waiters.shift();
    if (waiter) waiter(answer);
    else queue.push(answer);
  };
  client.subscribe(
    { query },
    {
      next: (result) => push(result as Answer),
      error: (error) =>
        push({ errors: Array.isArray(error) ? error : [{ message: String(error), extensions: {} }] }),
      complete: () => undefined,
    },
  );
  const next = (timeoutMs = 5000) =>
    queue.length > 0
      ? Promise.resolve(queue.shift() as Answer)
      : new Promise<Answer>((done, fail) => {
          const waiter = (answer: Answer) => {
            clearTimeout(timer);
            done(answer);
          };
          const timer = setTimeout(() => {
            // A timed-out wait must not swallow the next message.
            waiters.splice(waiters.indexOf(waiter), 1);
            fail(new Error(`no message within ${timeoutMs} ms`));
          }, timeoutMs);
          waiters.push(waiter);
        });
  // A refusal arrives at once; a live subscription stays quiet until something happens.
  const first = next(1500).catch(() => 'running' as const);
  return { first, next: () => next(), close: async () => client.dispose() };
}

describe('the authorization matrix', () => {
  let stack: BillingStack;
  const fixture: Fixture = { checkoutSessionId: '', cardId: '' };
  const tokens = {} as Record<CallerName, string | null>;
  const live: Array<{ close: () => Promise<void> }> = [];

  beforeAll(async () => {
    // Rate limits off: the matrix is about who may, not how often (the limits have tests of their own).
    stack = await startBillingStack({
      BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED,
      RATE_LIMIT_ENABLED: 'false',
    });
    tokens.anonymous = null;
    for (const caller of CALLERS.filter((name) => name !== 'anonymous')) {
      const roles =
        caller === 'admin' ? ['admin' as const] : caller === 'service' ? ['service' as const] : [];
      tokens[caller] = await stack.token(ownAccount(caller), {
        roles,
        email: `${caller}@example.com`,
      });
    }
    // A's things: an open Checkout Session, then a professional subscription with a card, and some usage.
    const a = await stack.as(A);
    const checkout = await a<{ createCheckoutSession: { id: string } }>(
      `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
    );
    fixture.checkoutSessionId = checkout.data?.createCheckoutSession.id as string;
    const subscribed = await a(
      'mutation { createSubscription(input: { planKey: "professional", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(subscribed.errors).toBeUndefined();
    const customer = await stack.app.orm.em.fork().findOneOrFail(BillingCustomer, { accountId: A });
    const cards = await stack.stripe.customers.listPaymentMethods(customer.stripeCustomerId as string);
    fixture.cardId = cards.data[0].id;
  });
  afterAll(async () => {
    await Promise.all(live.map((operation) => operation.close()));
    await stack.stop();
  });

  function call(caller: CallerName, query: string): Promise<Answer> {
    const token = tokens[caller];
    return stack.graphql(query, token ? { token } : {});
  }

  const schema = buildSchema(readFileSync(resolve(__dirname, '../../schema.graphql'), 'utf8'));
  const operations = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap(
    (type) => (type ? Object.keys(type.getFields()).map((field) => `${type.name}.${field}`) : []),
  );

  it('has an entry for every operation of schema.graphql (add one here for a new operation)', () => {
    expect(operations.filter((operation) => !(operation in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((operation) => !operations.includes(operation))).toEqual([]);
  });

  function check(operation: string, caller: CallerName, answer: Answer): void {
    const entry = MATRIX[operation];
    const expected = entry.expect[caller];
    const field = operation.split('.')[1];
    const seen = answer.errors?.[0]?.extensions?.code ?? 'ok';
    // The message names the cell, so a failure says which operation and caller.
    expect({ operation, caller, outcome: seen }).toEqual({ operation, caller, outcome: expected });
    if (expected === 'ok') {
      expect(answer.data?.[field]).not.toBeUndefined();
      entry.owns?.(answer.data as Record<string, unknown>, caller);
    } else {
      expect(answer.data?.[field] ?? null).toBeNull();
      expectCleanError(answer);
    }
  }

  const httpOperations = Object.keys(MATRIX).filter((operation) => !operation.startsWith('Subscription.'));
  it.each(httpOperations)('%s: each caller gets what the design gives it', async (operation) => {
    for (const caller of CALLERS) {
      check(operation, caller, await call(caller, MATRIX[operation].document(fixture, caller)));
    }
  });

  const socketOperations = Object.keys(MATRIX).filter((operation) => operation.startsWith('Subscription.'));
  it.each(socketOperations)('%s over graphql-ws: each caller is refused or subscribed', async (operation) => {
    await Promise.all(
      CALLERS.map(async (caller) => {
        const socket = openSocketOperation(
          stack.url,
          tokens[caller],
          MATRIX[operation].document(fixture, caller),
        );
        live.push(socket);
        const first = await socket.first;
        check(
          operation,
          caller,
          first === 'running' ? { data: { [operation.split('.')[1]]: 'running' } } : first,
        );
      }),
    );
  });

  it("delivers A's live events to A and to an admin following A, and to nobody else", async () => {
    const url = stack.url;
    const watchers = {
      aAccount: openSocketOperation(url, tokens.userA, 'subscription { accountUpdated { id } }'),
      adminOfA: openSocketOperation(
        url,
        tokens.admin,
        `subscription { accountUpdated(accountId: "${A}") { id } }`,
      ),
      bAccount: openSocketOperation(url, tokens.userB, 'subscription { accountUpdated { id } }'),
      aUsage: openSocketOperation(url, tokens.userA, 'subscription { usageUpdated { metric used } }'),
      bUsage: openSocketOperation(url, tokens.userB, 'subscription { usageUpdated { metric used } }'),
      serviceUsage: openSocketOperation(url, tokens.service, 'subscription { usageUpdated { metric used } }'),
    };
    live.push(...Object.values(watchers));
    // Every one is live (nothing refused) before A's events happen.
    for (const watcher of Object.values(watchers)) expect(await watcher.first).toBe('running');

    await stack.app.services.events.accountUpdated(A, 'test.matrix');
    const recorded = await call(
      'userA',
      `mutation { recordUsage(input: { metric: "ai_requests", quantity: 2, idempotencyKey: "${uniqueKey('userA')}" }) { usage { used } } }`,
    );
    expect(recorded.errors).toBeUndefined();

    expect((await watchers.aAccount.next()).data).toEqual({ accountUpdated: { id: A } });
    expect((await watchers.adminOfA.next()).data).toEqual({ accountUpdated: { id: A } });
    expect((await watchers.aUsage.next()).data).toMatchObject({ usageUpdated: { metric: 'ai_requests' } });
    const quiet = await Promise.all(
      [watchers.bAccount, watchers.bUsage, watchers.serviceUsage].map((watcher) =>
        Promise.race([
          watcher.next().then(() => 'delivered'),
          new Promise((done) => setTimeout(() => done('quiet'), 1000)),
        ]),
      ),
    );
    expect(quiet).toEqual(['quiet', 'quiet', 'quiet']);
  });

  it("leaves A's data as only A and the admin changed it", async () => {
    const em = stack.app.orm.em.fork();
    const customerA = await em.findOneOrFail(BillingCustomer, { accountId: A });
    expect(customerA.name).toBe('set by userA');
    expect(
      (await stack.stripe.customers.retrieve(customerA.stripeCustomerId as string)) as { name: string },
    ).toMatchObject({
      name: 'set by userA',
    });
    // The admin set the override and removed it again; nobody else left one.
    expect(await em.count(EntitlementOverride, { accountId: A })).toBe(0);
    // Only the admin granted A credits (once) and A bought one pack; nobody else's grant or purchase reached A. The
    // rest is the professional plan's 100,000 included credits of the period (granted at the first read of the
    // balance, docs/credits.md).
    const credits = await call('userA', '{ viewer { balance { credits } } }');
    expect(credits.data?.viewer).toEqual({ balance: { credits: 100 + 10_000 + 100_000 } });
    // Members' limits of A: set by A and the admin only.
    const members = await call('userA', '{ viewer { memberUsage { nodes { memberId monthlyCredits } } } }');
    expect(members.data?.viewer).toEqual({
      memberUsage: {
        nodes: [
          { memberId: 'member-admin', monthlyCredits: 100 },
          { memberId: 'member-userA', monthlyCredits: 100 },
        ],
      },
    });

    // A's usage: A, the service and the admin each recorded one use twice (single and batch), A two more.
    const usage = await call('userA', '{ viewer { usage { metric used } } }');
    expect((usage.data?.viewer as { usage: Array<{ metric: string; used: number }> }).usage).toContainEqual({
      metric: 'ai_requests',
      used: 8,
    });
  });
});
