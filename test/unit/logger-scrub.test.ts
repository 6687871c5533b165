import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/pino-logger';
import { scrubLogLine, scrubSecrets } from '../../src/logging/redaction';

/** The last pass over each log line: secrets in any field, any case and any encoding are gone. */
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2N0XzEifQ.c2lnbmF0dXJlLXBhcnQ';
const CARD = '4242424242424242';

function capture() {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      raw.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ logLevel: 'debug' }, sink), raw };
}

describe('log line scrubbing', () => {
  it('finds secrets in a URL query, after a JSON escape, and bearer credentials of any shape', () => {
    const query = `/graphql?variables=${encodeURIComponent(JSON.stringify({ card: CARD, t: `x ${JWT}` }))}`;
    expect(scrubSecrets(query)).not.toContain(CARD);
    expect(scrubSecrets(query)).not.toContain(JWT);
    expect(scrubSecrets(`/x?key=%3Ask_test_abc&c=%20${CARD}`)).toBe('/x?key=%3A[redacted]&c=%20[redacted]');
    expect(scrubSecrets(String.raw`line\n${JWT}\nwhsec_abc`)).toBe(String.raw`line\n[redacted]\n[redacted]`);
    expect(scrubSecrets('Authorization: bearer opaque-token.123')).toBe('Authorization: Bearer [redacted]');
    // Other numbers stay: an encoded timestamp and an id that fails Luhn.
    expect(scrubSecrets('/x?at=%221795767414656%22&n=%224242424242424241%22')).toBe(
      '/x?at=%221795767414656%22&n=%224242424242424241%22',
    );
  });

  it('redacts header values in any case and leaves numbers and the JSON intact', () => {
    const line = `{"time":4242424242424242,"headers":{"Authorization":"Basic dXNlcjpwYXNz","Cookie":"s=1"},"n":1}\n`;
    const scrubbed = scrubLogLine(line);
    expect(JSON.parse(scrubbed)).toEqual({
      time: 4242424242424242,
      headers: { Authorization: '[redacted]', Cookie: '[redacted]' },
      n: 1,
    });
  });

  it('reaches fields, error causes and error properties that paths and serializers miss', () => {
    const { logger, raw } = capture();
    logger.error({ err: new Error('outer', { cause: new Error(`inner ${JWT}`) }) }, 'cause');
    logger.error({ err: Object.assign(new Error('props'), { detail: 'whsec_zzz sk_live_1' }) }, 'props');
    logger.info({ input: { card: CARD, note: 'call 4242 4242 4242 4242' } }, 'fields');
    logger.info({ headers: { Authorization: 'Token opaque' } }, 'header case');
    logger.info({ req: { url: `/graphql?variables=%7B%22card%22%3A%22${CARD}%22%7D` } }, 'url');
    const text = raw.join('');
    for (const secret of [JWT, 'whsec_zzz', 'sk_live_1', CARD, '4242 4242', 'Token opaque'])
      expect(text).not.toContain(secret);
    for (const line of raw) expect(() => JSON.parse(line)).not.toThrow();
    expect(raw).toHaveLength(5);
  });
});

describe('the scrubber stays linear', () => {
  it('scrubs a long run of JWT-like fragments in a few milliseconds, not seconds', () => {
    const hostile = 'eyJ-'.repeat(32_768);
    const started = performance.now();
    scrubSecrets(`GET /healthz?x=${hostile}`);
    // Quadratic, this took about 4.6 s at 128 KB; linear, it is a few milliseconds.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('still finds a JWT after a dash-free boundary, an encoding or an escape', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2N0XzEifQ.c2lnbmF0dXJlLXBhcnQ';
    expect(scrubSecrets(`token=${jwt}`)).toBe('token=[redacted]');
    expect(scrubSecrets(`%22${jwt}%22`)).toBe('%22[redacted]%22');
    expect(scrubSecrets(`\\n${jwt}`)).toBe('\\n[redacted]');
  });
});
