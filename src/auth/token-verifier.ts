import {
  createRemoteJWKSet,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { Config } from '../config';
import { UnauthenticatedError } from '../errors';
import { type AuthenticatedCaller, ANONYMOUS, type Caller, type Role } from './caller';

const KNOWN_ROLES: ReadonlySet<string> = new Set<Role>(['admin', 'service']);
const BEARER_PREFIX_LENGTH = 'Bearer '.length;

/**
 * Turns an `Authorization` value into a caller. HS256 tokens are checked with the shared secret, RS256 ones
 * against the JWKS; `alg: none` and any other algorithm are refused by jose's allow-list.
 */
export class TokenVerifier {
  private readonly secret: Uint8Array | null;
  private readonly jwks: JWTVerifyGetKey | null;
  /**
   * Tokens already verified, until they expire: the same token arrives on every request of a session, and
   * the hot path (feature checks) should not pay for its signature each time. Bounded, oldest evicted first.
   */
  private readonly verified = new Map<string, { caller: AuthenticatedCaller; expiresAtMs: number }>();
  private static readonly CACHE_SIZE = 10_000;

  constructor(private readonly auth: Config['auth']) {
    this.secret = auth.jwtSecret ? new TextEncoder().encode(auth.jwtSecret) : null;
    this.jwks = auth.jwksUrl ? createRemoteJWKSet(new URL(auth.jwksUrl)) : null;
  }

  /** An absent header is an anonymous caller; a present but invalid one is an error, never anonymous. */
  async callerFrom(authorization: string | undefined | null): Promise<Caller> {
    if (!authorization) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <token>"');
    return this.verify(match[1]);
  }

  /**
   * The caller, without a promise, when nothing is left to verify: no header (anonymous), or `Bearer <token>`
   * with a token verified before and not yet expired. Undefined otherwise: ask `callerFrom`, which verifies
   * (or refuses) it. Any header this answers, `callerFrom` would answer the same way: a remembered token never
   * holds whitespace, so `Bearer ` followed by it is exactly what callerFrom's pattern reads as that token.
   */
  knownCaller(authorization: string | undefined | null): Caller | undefined {
    if (!authorization) return ANONYMOUS;
    if (!authorization.startsWith('Bearer ')) return undefined;
    const cached = this.verified.get(authorization.slice(BEARER_PREFIX_LENGTH));
    return cached && cached.expiresAtMs > Date.now() ? cached.caller : undefined;
  }

  async verify(token: string): Promise<AuthenticatedCaller> {
    const cached = this.verified.get(token);
    if (cached && cached.expiresAtMs > Date.now()) return cached.caller;
    if (cached) this.verified.delete(token);
    return this.verifyUncached(token);
  }

  private async verifyUncached(token: string): Promise<AuthenticatedCaller> {
    const payload = await this.verifySignature(token);
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new UnauthenticatedError('The token has no subject (sub): it must name the account');
    }
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((role): role is Role => typeof role === 'string' && KNOWN_ROLES.has(role))
      : [];
    const caller: AuthenticatedCaller = {
      kind: 'authenticated',
      accountId: payload.sub,
      email: typeof payload.email === 'string' ? payload.email : null,
      roles: new Set(roles),
      // `exp` is required (verifySignature), so this is a date for every token we accept.
      expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null,
    };
    this.remember(token, caller, (payload.exp ?? 0) * 1000);
    return caller;
  }

  private remember(token: string, caller: AuthenticatedCaller, expiresAtMs: number): void {
    if (this.verified.size >= TokenVerifier.CACHE_SIZE) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { caller, expiresAtMs });
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    const options = {
      issuer: this.auth.issuer ?? undefined,
      audience: this.auth.audience ?? undefined,
      requiredClaims: ['exp'],
    };
    try {
      if (this.secret && this.headerAlgorithm(token) === 'HS256') {
        return (await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] })).payload;
      }
      if (this.jwks) {
        return (await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256'] })).payload;
      }
      throw new UnauthenticatedError('The token is not signed with an accepted algorithm');
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new UnauthenticatedError('The token has expired');
      throw new UnauthenticatedError('The token is invalid');
    }
  }

  private headerAlgorithm(token: string): string | null {
    try {
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
        alg?: unknown;
      };
      return typeof header.alg === 'string' ? header.alg : null;
    } catch {
      return null;
    }
  }
}
