import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { signToken } from '../../src/auth/token-signer';
import { TokenVerifier } from '../../src/auth/token-verifier';

const SECRET = 'unit-test-secret-that-is-long-enough-0123456789';
const hs256 = new TokenVerifier({ jwtSecret: SECRET, jwksUrl: null, issuer: null, audience: null });

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return (error as { extensions?: { code?: unknown } }).extensions?.code;
  }
}

describe('TokenVerifier with HS256', () => {
  it('turns a valid token into a caller with its account, email and known roles', async () => {
    const token = await signToken(SECRET, {
      accountId: 'acct_a',
      email: 'a@x.io',
      roles: ['admin', 'service'],
    });
    const caller = await hs256.callerFrom(`Bearer ${token}`);
    expect(caller).toEqual({
      kind: 'authenticated',
      accountId: 'acct_a',
      email: 'a@x.io',
      roles: new Set(['admin', 'service']),
      // The token's `exp`: a WebSocket authenticated with it is closed then (src/server.ts).
      expiresAt: new Date((decodeJwt(token).exp as number) * 1000),
    });
  });

  it('drops roles it does not know', async () => {
    const token = await new SignJWT({ roles: ['superuser', 'admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acct_a')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    const caller = await hs256.verify(token);
    expect([...caller.roles]).toEqual(['admin']);
  });

  it('treats a missing header as anonymous', async () => {
    expect(await hs256.callerFrom(undefined)).toEqual({ kind: 'anonymous' });
  });

  it.each([
    ['a header that is not Bearer', 'Basic abc'],
    ['garbage', 'Bearer not.a.jwt'],
  ])('refuses %s', async (_name, header) => {
    expect(await codeOf(hs256.callerFrom(header))).toBe('UNAUTHENTICATED');
  });

  it('refuses an expired token, a forged signature and a token without exp or sub', async () => {
    const expired = await signToken(SECRET, { accountId: 'a', expiresInSeconds: -60 });
    const forged = await signToken('another-secret-that-is-long-enough-0123456789', { accountId: 'a' });
    const noExpiry = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .sign(new TextEncoder().encode(SECRET));
    const noSubject = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    for (const token of [expired, forged, noExpiry, noSubject]) {
      expect(await codeOf(hs256.verify(token))).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses alg none', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'acct_a', exp: Math.floor(Date.now() / 1000) + 3600, roles: ['admin'] })}.`;
    expect(await codeOf(hs256.verify(unsigned))).toBe('UNAUTHENTICATED');
  });

  it('checks the issuer and audience when configured', async () => {
    const strict = new TokenVerifier({
      jwtSecret: SECRET,
      jwksUrl: null,
      issuer: 'coditect',
      audience: 'billing',
    });
    const right = await signToken(SECRET, { accountId: 'a', issuer: 'coditect', audience: 'billing' });
    const wrongAudience = await signToken(SECRET, { accountId: 'a', issuer: 'coditect', audience: 'crm' });
    expect((await strict.verify(right)).accountId).toBe('a');
    expect(await codeOf(strict.verify(wrongAudience))).toBe('UNAUTHENTICATED');
  });
});

describe('TokenVerifier with RS256 from a JWKS', () => {
  let server: Server;
  let verifier: TokenVerifier;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  beforeAll(async () => {
    const keys = await generateKeyPair('RS256');
    privateKey = keys.privateKey;
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    verifier = new TokenVerifier({
      jwtSecret: null,
      jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
      issuer: null,
      audience: null,
    });
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('accepts a token signed by a key of the set', async () => {
    const token = await new SignJWT({ roles: ['service'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('gateway')
      .setExpirationTime('5m')
      .sign(privateKey);
    const caller = await verifier.verify(token);
    expect(caller.accountId).toBe('gateway');
    expect(caller.roles.has('service')).toBe(true);
  });

  it('refuses an HS256 token when only a JWKS is configured', async () => {
    const token = await signToken(SECRET, { accountId: 'a' });
    expect(await codeOf(verifier.verify(token))).toBe('UNAUTHENTICATED');
  });
});

describe('TokenVerifier cache', () => {
  it('serves a verified token again without re-verifying, and stops at its expiry', async () => {
    const verifier = new TokenVerifier({ jwtSecret: SECRET, jwksUrl: null, issuer: null, audience: null });
    const token = await signToken(SECRET, { accountId: 'acct_a', expiresInSeconds: 2 });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);

    jest.useFakeTimers({ now: Date.now() + 3000, doNotFake: ['nextTick', 'setImmediate'] });
    try {
      expect(await codeOf(verifier.verify(token))).toBe('UNAUTHENTICATED');
    } finally {
      jest.useRealTimers();
    }
  });

  it('knows a verified token without a promise, only as callerFrom would read the header, until it expires', async () => {
    const verifier = new TokenVerifier({ jwtSecret: SECRET, jwksUrl: null, issuer: null, audience: null });
    const token = await signToken(SECRET, { accountId: 'acct_known', expiresInSeconds: 2 });
    expect(verifier.knownCaller(undefined)).toEqual({ kind: 'anonymous' });
    expect(verifier.knownCaller('')).toEqual(await verifier.callerFrom(''));
    // Not verified yet: nothing known, callerFrom must verify it.
    expect(verifier.knownCaller(`Bearer ${token}`)).toBeUndefined();
    const caller = await verifier.callerFrom(`Bearer ${token}`);
    expect(verifier.knownCaller(`Bearer ${token}`)).toBe(caller);
    // Other spellings callerFrom accepts are left to it (the same caller, through the slow path).
    for (const header of [`bearer ${token}`, `Bearer  ${token}`, ` Bearer ${token} `]) {
      expect(verifier.knownCaller(header)).toBeUndefined();
      expect(await verifier.callerFrom(header)).toBe(caller);
    }
    // A header that is not this token is never taken for it.
    expect(verifier.knownCaller(`Bearer ${token}x`)).toBeUndefined();
    expect(verifier.knownCaller(`Bearer ${token} x`)).toBeUndefined();
    expect(verifier.knownCaller(token)).toBeUndefined();

    jest.useFakeTimers({ now: Date.now() + 3000, doNotFake: ['nextTick', 'setImmediate'] });
    try {
      expect(verifier.knownCaller(`Bearer ${token}`)).toBeUndefined();
      expect(await codeOf(verifier.callerFrom(`Bearer ${token}`))).toBe('UNAUTHENTICATED');
    } finally {
      jest.useRealTimers();
    }
  });

  it('never caches a token that failed', async () => {
    const verifier = new TokenVerifier({ jwtSecret: SECRET, jwksUrl: null, issuer: null, audience: null });
    const forged = await signToken('another-secret-that-is-long-enough-0123456789', { accountId: 'a' });
    expect(await codeOf(verifier.verify(forged))).toBe('UNAUTHENTICATED');
    expect(await codeOf(verifier.verify(forged))).toBe('UNAUTHENTICATED');
  });
});
