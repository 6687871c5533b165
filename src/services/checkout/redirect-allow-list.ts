import { BadUserInputError } from '../../errors';

/**
 * Checkout and the Portal send the user back to URLs the caller gives; only origins we trust may be named, or
 * the billing service becomes an open redirect that phishing pages can borrow.
 */
export class RedirectAllowList {
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.origins = new Set(origins);
  }

  /** The URL itself when its origin is allowed; BAD_USER_INPUT naming the field otherwise. */
  check(url: string, field: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new BadUserInputError(`${field} must be an absolute URL`, field);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || !this.origins.has(parsed.origin)) {
      throw new BadUserInputError(
        `${field} must be on an allowed origin (BILLING_ALLOWED_REDIRECT_ORIGINS)`,
        field,
      );
    }
    return url;
  }

  /** Where the Portal returns when the caller names no URL: the first allowed origin. */
  defaultReturnUrl(): string | null {
    const [first] = this.origins;
    return first ? `${first}/` : null;
  }
}
