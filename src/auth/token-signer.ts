import { SignJWT } from 'jose';
import type { Role } from './caller';

export interface TokenClaims {
  accountId: string;
  email?: string;
  roles?: Role[];
  /** Seconds until the token expires; one hour unless told. */
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
}

/**
 * Signs an HS256 token as the CODITECT app would. The service itself only verifies tokens; this is for the
 * development token `npm run dev` prints, the tests and the benchmarks.
 */
export async function signToken(secret: string, claims: TokenClaims): Promise<string> {
  let jwt = new SignJWT({ email: claims.email, roles: claims.roles ?? [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.accountId)
    .setIssuedAt()
    .setExpirationTime(`${claims.expiresInSeconds ?? 3600}s`);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
