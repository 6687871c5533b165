import { Writable } from 'node:stream';
import { createLogger, scrubSecrets } from '../../src/logger';
import { noteAccount, noteStripeRequest, runInRequestScope } from '../../src/observability/request-scope';

/** The logger never writes a secret, and lines written while serving a request say which request it was. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      raw.push(String(chunk));
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger({ logLevel: 'info' }, sink), lines, raw };
}

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2N0XzEifQ.c2lnbmF0dXJlLXBhcnQ';

describe('logger', () => {
  it('scrubs secrets and card numbers out of text, and leaves other numbers alone', () => {
    expect(scrubSecrets(`token ${JWT} key sk_live_51Habc rk_test_9 whsec_abc123 end`)).toBe(
      'token [redacted] key [redacted] [redacted] [redacted] end',
    );
    expect(scrubSecrets('card 4242 4242 4242 4242 or 4000-0000-0000-0002 or 4242424242424242')).toBe(
      'card [redacted] or [redacted] or [redacted]',
    );
    // Not Luhn-valid: a millisecond timestamp, an invoice number.
    expect(scrubSecrets('at 1795767414656, invoice 1234567890123')).toBe(
      'at 1795767414656, invoice 1234567890123',
    );
  });

  it('redacts by path and scrubs messages and errors', () => {
    const { logger, raw } = capture();
    logger.info(
      {
        req: { headers: { authorization: `Bearer ${JWT}`, 'stripe-signature': 't=1,v1=abc' } },
        connectionParams: { authorization: `Bearer ${JWT}` },
        config: { stripe: { secretKey: 'sk_test_1', webhookSecrets: ['whsec_1'] }, metrics: { token: 'x' } },
        paymentMethod: { card: { number: '4242424242424242', cvc: '123' } },
      },
      `signed in with ${JWT}`,
    );
    logger.error({ err: new Error('Stripe refused sk_live_123') }, 'failed');
    const text = raw.join('');
    for (const secret of [
      JWT,
      't=1,v1=abc',
      'sk_test_1',
      'whsec_1',
      '4242424242424242',
      'sk_live_123',
      '"123"',
    ])
      expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });

  it('adds the request id, the account and the Stripe request id inside a request scope', async () => {
    const { logger, lines } = capture();
    logger.info({}, 'outside');
    await runInRequestScope({ reqId: 'req-1' }, async () => {
      logger.info({}, 'before sign-in');
      noteAccount('acct_1');
      await new Promise((done) => setTimeout(done, 1));
      noteStripeRequest('req_stripe_1');
      logger.info({}, 'after');
      logger.child({ reqId: 'req-1' }).info('fastify request logger');
    });
    expect(lines[0]).not.toHaveProperty('reqId');
    expect(lines[1]).toMatchObject({ reqId: 'req-1' });
    expect(lines[1]).not.toHaveProperty('accountId');
    expect(lines[2]).toMatchObject({ reqId: 'req-1', accountId: 'acct_1', stripeRequestId: 'req_stripe_1' });
    expect(lines[3]).toMatchObject({ reqId: 'req-1', accountId: 'acct_1' });
  });
});
