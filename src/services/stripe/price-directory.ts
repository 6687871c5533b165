import { BillingError, ErrorCode } from '../../errors';
import type { StripeClient } from './stripe-client';

/** How long a price id is trusted: `npm run stripe:sync` may move a lookup key to a new price at any time. */
const CACHE_MS = 60_000;

/**
 * Stripe price ids by lookup key. The catalog names prices by lookup key (ids differ per Stripe account and
 * change when an amount changes); ids are looked up and kept for a minute, so a synced price change reaches
 * every instance within a minute without a restart.
 */
export class PriceDirectory {
  private readonly ids = new Map<string, { id: string; until: number }>();

  constructor(private readonly stripe: StripeClient) {}

  async priceId(lookupKey: string): Promise<string> {
    const known = this.ids.get(lookupKey);
    if (known && known.until > Date.now()) return known.id;
    const prices = await this.stripe.call('prices.list', (sdk) =>
      sdk.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 }),
    );
    const price = prices.data[0];
    if (!price) {
      throw new BillingError(
        ErrorCode.STRIPE_ERROR,
        `Stripe has no active price ${lookupKey}: run npm run stripe:sync`,
        { lookupKey },
      );
    }
    this.ids.set(lookupKey, { id: price.id, until: Date.now() + CACHE_MS });
    return price.id;
  }
}
