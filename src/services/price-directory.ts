import type { StripeClient } from './stripe/stripe-client';
import { BillingError, ErrorCode } from '../errors';

/**
 * Stripe price ids by lookup key. The catalog names prices by lookup key (ids differ per Stripe account and
 * change when an amount changes); ids are looked up once and kept, and looked up again if Stripe moved the key.
 */
export class PriceDirectory {
  private readonly ids = new Map<string, string>();

  constructor(private readonly stripe: StripeClient) {}

  async priceId(lookupKey: string): Promise<string> {
    const known = this.ids.get(lookupKey);
    if (known) return known;
    const prices = await this.stripe.call('prices.list', (sdk) =>
      sdk.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 }),
    );
    const price = prices.data[0];
    if (!price) {
      throw new BillingError(
        ErrorCode.STRIPE_ERROR,
        `Stripe has no active price ${lookupKey}: run npm run stripe:sync`,
        {
          lookupKey,
        },
      );
    }
    this.ids.set(lookupKey, price.id);
    return price.id;
  }

  /** Forget a cached id (after `stripe:sync` moved the lookup key to a new price). */
  forget(lookupKey: string): void {
    this.ids.delete(lookupKey);
  }
}
