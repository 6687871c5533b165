import type { ModelPriceVersion, RateCardModels } from './credit.types';
import { TokenCountError, UnknownModelError } from './rate-card.errors';

export { TokenCountError, UnknownModelError } from './rate-card.errors';

const TOKENS_PER_PRICE_UNIT = 1_000_000n;

/** One model call to price: the tokens it used (or is estimated to use) at a moment. */
export interface ModelCall {
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** When the call is priced: the moment its reservation is made (docs/billing-rules.md row 62). */
  at: Date;
}

/** What a call costs and at which version of the model's price. */
export interface ModelCallPrice {
  credits: number;
  price: ModelPriceVersion;
}

/** A model's price now, and the next version when one is scheduled. */
export interface ModelPriceInEffect {
  model: string;
  current: ModelPriceVersion;
  next: ModelPriceVersion | null;
}

/**
 * The rate card of plans/plans.yaml `models:` (docs/credits.md): pure and exact. A price version applies from
 * its `effectiveFrom` on, never to a moment before it, so a price change never reprices a call already made.
 *
 * A call costs ceil((inputTokens × inputCreditsPerMillion + outputTokens × outputCreditsPerMillion) / 1,000,000)
 * credits: ONE rounding per call, up. Rounding each side separately would charge up to 2 credits for what costs
 * 1; rounding down (or to nearest) would make small calls free, and an agent making many small calls would burn
 * nothing at all. The sum is computed in BigInt, so no token count loses precision on the way.
 */
export class RateCard {
  constructor(private readonly models: RateCardModels) {}

  /** Every model key the card prices (at some moment), in the order of the file. */
  modelKeys(): string[] {
    return Object.keys(this.models);
  }

  /** The version in effect at `at`: the latest whose `effectiveFrom` is at or before it. */
  priceAt(model: string, at: Date): ModelPriceVersion {
    const versions = this.versionsOf(model);
    let found: ModelPriceVersion | undefined;
    for (const version of versions) {
      if (version.effectiveFrom.getTime() > at.getTime()) break;
      found = version;
    }
    if (!found) throw new UnknownModelError(model, this.modelKeys(), versions[0]?.effectiveFrom ?? null);
    return found;
  }

  /** The first version that takes effect after `at`, or null when none is scheduled. */
  nextPriceAfter(model: string, at: Date): ModelPriceVersion | null {
    return this.versionsOf(model).find((version) => version.effectiveFrom.getTime() > at.getTime()) ?? null;
  }

  /** Each model priced at `at`, with its next version; models priced only from a later moment are left out. */
  pricesAt(at: Date): ModelPriceInEffect[] {
    return this.modelKeys().flatMap((model) => {
      const first = this.versionsOf(model)[0];
      if (!first || first.effectiveFrom.getTime() > at.getTime()) return [];
      return [{ model, current: this.priceAt(model, at), next: this.nextPriceAfter(model, at) }];
    });
  }

  /** The credits a call costs at the version in effect at `call.at`. */
  creditsFor(call: ModelCall): number {
    return this.quote(call).credits;
  }

  /** The credits a call costs and the version that priced it (what a reservation records). */
  quote(call: ModelCall): ModelCallPrice {
    const inputTokens = tokenCount('inputTokens', call.inputTokens);
    const outputTokens = tokenCount('outputTokens', call.outputTokens);
    const price = this.priceAt(call.model, call.at);
    const total =
      inputTokens * BigInt(price.inputCreditsPerMillion) +
      outputTokens * BigInt(price.outputCreditsPerMillion);
    const credits = (total + TOKENS_PER_PRICE_UNIT - 1n) / TOKENS_PER_PRICE_UNIT;
    if (credits > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new TokenCountError('inputTokens', `A call of ${total} token-credits is too large to price`);
    }
    return { credits: Number(credits), price };
  }

  private versionsOf(model: string): readonly ModelPriceVersion[] {
    // Own keys only: `constructor` or `__proto__` are not models.
    const versions = Object.hasOwn(this.models, model) ? this.models[model] : undefined;
    if (!versions) throw new UnknownModelError(model, this.modelKeys());
    return versions;
  }
}

function tokenCount(field: string, value: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TokenCountError(
      field,
      `${field} must be a whole number of tokens, zero or more (got ${value})`,
    );
  }
  return BigInt(value);
}
