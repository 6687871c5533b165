import { Writable } from 'node:stream';
import { TEST_STRIPE_KEY } from '../support/emulator';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { TEST_JWT_SECRET } from '../support/service';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe } from '../support/ws-client';

/**
 * A whole journey at LOG_LEVEL=debug — a customer, Checkout paid by card, a subscription with a card, a
 * declined card, webhooks, usage, live updates over a WebSocket, refused requests — and then every log line it
 * wrote is searched for the secrets it handled. Nothing of them may be in the logs, in any field.
 */
const ALLOWED = 'http://localhost:3000';
const CARD = '4242424242424242';

/** Runs of 13–19 digits (optionally grouped by spaces or dashes) standing alone, as card numbers are written. */
const DIGIT_RUN = /(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w.])/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Luhn-valid digit runs that could be card numbers. Millisecond timestamps (13 digits, within 20 years of now)
 * are not: one in ten passes Luhn by chance, and every line carries one (`time`).
 */
function cardLikeNumbers(line: string): string[] {
  const now = Date.now();
  const twentyYears = 20 * 365 * 24 * 3600 * 1000;
  return [...line.matchAll(DIGIT_RUN)]
    .map((match) => match[0].replace(/[ -]/g, ''))
    .filter((digits) => luhnValid(digits))
    .filter((digits) => !(digits.length === 13 && Math.abs(Number(digits) - now) < twentyYears));
}

/** Every line that carries one of `secrets`, a token's signature or something shaped like a secret. */
function leaksIn(lines: string[], secrets: string[], tokens: string[]): string[] {
  const leaks: string[] = [];
  const signatures = tokens.map((token) => token.split('.')[2] as string);
  for (const line of lines) {
    for (const secret of secrets) if (line.includes(secret)) leaks.push(`${secret.slice(0, 12)}… in ${line}`);
    for (const signature of signatures)
      if (line.includes(signature)) leaks.push(`a token's signature in ${line}`);
    if (/"authorization":"(?!\[redacted\])/i.test(line)) leaks.push(`an authorization value in ${line}`);
    if (/\bBearer\s+(?!\[redacted\])\S/i.test(line)) leaks.push(`a bearer token in ${line}`);
    if (/\beyJ[\w-]+\.[\w-]+/.test(line)) leaks.push(`a JWT in ${line}`);
    if (/\b(?:sk|rk)_(?:test|live)_|\bwhsec_/.test(line)) leaks.push(`a Stripe secret in ${line}`);
    for (const number of cardLikeNumbers(line)) leaks.push(`card-like number ${number} in ${line}`);
  }
  return leaks;
}

describe('logs of a full journey', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const tokens: string[] = [];
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ LOG_LEVEL: 'debug' }, { webhooks: true, logDestination: sink });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function as(accountId: string, roles: Array<'admin' | 'service'> = []) {
    const token = await stack.token(accountId, { roles, email: `${accountId}@example.com` });
    tokens.push(token);
    return <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>) =>
      stack.graphql<T>(query, { variables, token });
  }

  it('writes no key, webhook secret, token, Authorization header or card number', async () => {
    // Live updates over a WebSocket, the token in the connection parameters.
    const buyerToken = await stack.token('acct_logs_buyer', { email: 'buyer@example.com' });
    tokens.push(buyerToken);
    const socket = connectSocket(stack.url, `Bearer ${buyerToken}`);
    const updates = subscribe<{ accountUpdated: { id: string } }>(
      socket,
      'subscription { accountUpdated { id } }',
    );

    // A customer, then Checkout paid with 4242 4242 4242 4242.
    const buyer = await as('acct_logs_buyer');
    const customer = await buyer(
      'mutation { updateCustomer(input: { name: "Ada Lovelace", email: "ada@example.com" }) { id } }',
    );
    expect(customer.errors).toBeUndefined();
    expect((await updates.next(10_000)).accountUpdated.id).toBe('acct_logs_buyer');
    const checkout = await buyer<{ createCheckoutSession: { id: string } }>(
      `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
    );
    expect(checkout.errors).toBeUndefined();
    const sessionId = checkout.data?.createCheckoutSession.id as string;
    const paid = await fetch(`${stack.emulator.url}/_emulator/checkout/sessions/${sessionId}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ card: CARD }),
    });
    expect(paid.status).toBe(200);
    const confirmed = await buyer<{ checkoutSession: { status: string } }>(
      'query($id: ID!) { checkoutSession(id: $id) { status } }',
      { id: sessionId },
    );
    expect(confirmed.data?.checkoutSession.status).toBe('complete');
    const portal = await buyer(
      `mutation { createPortalSession(input: { returnUrl: "${ALLOWED}/b" }) { url } }`,
    );
    expect(portal.errors).toBeUndefined();

    // A subscription with a card, a change, and a declined card.
    const subscriber = await as('acct_logs_card');
    const created = await subscriber(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(created.errors).toBeUndefined();
    const changed = await subscriber(
      'mutation { changeSubscription(input: { planKey: "professional" }) { id } }',
    );
    expect(changed.errors).toBeUndefined();
    const declined = await (await as('acct_logs_declined'))(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_chargeDeclined" }) { id } }',
    );
    expect(declined.errors?.[0]?.extensions?.code).toBe('CARD_DECLINED');

    // Usage, by the user and by the service role for it, and a refusal.
    const recorded = await subscriber(
      'mutation { recordUsage(input: { metric: "ai_requests", quantity: 3, idempotencyKey: "log-1" }) { duplicate } }',
    );
    expect(recorded.errors).toBeUndefined();
    const gateway = await as('ai-gateway', ['service']);
    const batch = await gateway(
      'mutation($input: [RecordUsageInput!]!) { recordUsageBatch(input: $input) { duplicate } }',
      {
        input: [
          { accountId: 'acct_logs_card', metric: 'ai_requests', quantity: 1, idempotencyKey: 'log-2' },
          { accountId: 'acct_logs_card', metric: 'no_such_metric', quantity: 1, idempotencyKey: 'log-3' },
        ],
      },
    );
    expect(batch.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // Errors: a forged token, another account's data, a forged webhook, a malformed request.
    const forged = `${buyerToken.slice(0, -4)}AAAA`;
    tokens.push(forged);
    const refused = await stack.graphql('{ viewer { id } }', { token: forged });
    expect(refused.status).toBe(401);
    const forbidden = await buyer('{ account(id: "acct_logs_card") { id } }');
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const forgedWebhook = await fetch(`${stack.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}`,
        authorization: `Bearer ${buyerToken}`,
      },
      body: JSON.stringify({ id: 'evt_forged', type: 'invoice.paid', card: CARD }),
    });
    expect(forgedWebhook.status).toBe(400);
    const malformed = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${buyerToken}` },
      body: `{ "query": "{ viewer { id } ", "variables": { "card": "${CARD}", "key": "${TEST_STRIPE_KEY}" } }`,
    });
    expect(malformed.status).toBe(400);
    const badJson = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${buyerToken}` },
      body: `{ "variables": { "card": ${CARD}x, "key": "${TEST_STRIPE_KEY}" } }`,
    });
    expect(badJson.status).toBe(400);
    // A GET query puts its variables in the URL, which the request log line carries.
    const variables = encodeURIComponent(JSON.stringify({ card: CARD, note: `token ${buyerToken}` }));
    const viaGet = await fetch(
      `${stack.url}/graphql?query=${encodeURIComponent('{ viewer { id } }')}&variables=${variables}`,
      { headers: { authorization: `Bearer ${buyerToken}`, 'apollo-require-preflight': 'true' } },
    );
    expect(viaGet.status).toBe(200);
    const refusedSocket = connectSocket(stack.url, `Bearer ${forged}`);
    const refusedSubscription = subscribe(refusedSocket, 'subscription { accountUpdated { id } }');
    await waitUntil(() => refusedSubscription.errors.length > 0, 'the server refuses the forged token');
    await refusedSocket.dispose();

    await stack.flushWebhooks();
    updates.close();
    await socket.dispose();
    // Stopped here so the shutdown's lines are searched too (the second stop in afterAll does nothing more).
    await stack.app.stop();

    // The journey was logged (debug lines included), so finding nothing below means something; and the
    // scrubbing left every line valid JSON.
    expect(lines.length).toBeGreaterThan(20);
    expect(() => lines.map((line) => JSON.parse(line))).not.toThrow();
    expect(lines.some((line) => JSON.parse(line).level === 20)).toBe(true);
    expect(lines.some((line) => line.includes('/webhooks/stripe'))).toBe(true);

    const webhookSecret = stack.webhookSecret as string;
    expect(webhookSecret).toMatch(/^whsec_/);
    const secrets = [TEST_STRIPE_KEY, webhookSecret, TEST_JWT_SECRET, CARD, ...tokens];
    // The search itself finds what it looks for (else an empty list below would prove nothing).
    expect(leaksIn([`{"h":{"authorization":"Bearer ${tokens[0]}"}}`], secrets, tokens)).toHaveLength(5);
    expect(leaksIn(['{"card":"4000 0566 5566 5556","time":1795768606424}'], [], [])).toHaveLength(1);
    const leaks = leaksIn(lines, secrets, tokens);
    expect(leaks).toEqual([]);
  }, 120_000);
});
