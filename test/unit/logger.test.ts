import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/pino-logger';
import { scrubSecrets } from '../../src/logging/redaction';
import { GraphQLError } from 'graphql';
import { logOperationErrors } from '../../src/observability/request-scope';

/** The logger never writes a secret, and a failed operation's line says which request and account it was. */
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

  it("logs a failed operation through the request's logger, with the code and Stripe's request id", async () => {
    const { logger, lines } = capture();
    const log = logger.child({ reqId: 'req-1' }).child({ accountId: 'acct_1' });
    const errors = [
      new GraphQLError('Your card was declined', {
        path: ['createSubscription'],
        extensions: { code: 'CARD_DECLINED', stripeRequestId: 'req_stripe_1' },
      }),
      new GraphQLError('Sign in', { extensions: { code: 'UNAUTHENTICATED' } }),
      new GraphQLError('boom', { originalError: new Error('database went away') }),
    ];
    logOperationErrors(log, errors, 'Subscribe');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      reqId: 'req-1',
      accountId: 'acct_1',
      stripeRequestId: 'req_stripe_1',
      code: 'CARD_DECLINED',
      operationName: 'Subscribe',
      path: 'createSubscription',
      msg: 'graphql operation failed',
    });
    // A refusal without Stripe is a debug line (not written at info); an unexpected error is an error line.
    expect(lines[1]).toMatchObject({
      reqId: 'req-1',
      level: 50,
      msg: 'unexpected error in a GraphQL operation',
    });
    expect(JSON.stringify(lines[1])).toContain('database went away');
  });
});
