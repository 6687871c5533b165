import { BadUserInputError, BillingError, ErrorCode } from '../../errors';

/**
 * A model call for a model the rate card does not price (or not yet): refused, never rated at 0 credits, since
 * a call rated at 0 would be free AI for anyone who misspells a model. `extensions.knownModels` lists what is
 * priced, so the calling service can fix its configuration.
 */
export class UnknownModelError extends BillingError {
  constructor(
    readonly model: string,
    knownModels: readonly string[],
    pricedFrom: Date | null = null,
  ) {
    super(
      ErrorCode.BAD_USER_INPUT,
      pricedFrom
        ? `Model ${model} is priced only from ${pricedFrom.toISOString()}`
        : `Unknown model ${model}: the rate card prices ${knownModels.join(', ') || 'no model'}`,
      {
        field: 'model',
        reason: pricedFrom ? 'MODEL_NOT_YET_PRICED' : 'UNKNOWN_MODEL',
        model,
        knownModels: [...knownModels],
      },
    );
    this.name = 'UnknownModelError';
  }
}

/** A token count that is not a whole number of zero or more (or a call too large to price exactly). */
export class TokenCountError extends BadUserInputError {
  constructor(field: string, message: string) {
    super(message, field);
    this.name = 'TokenCountError';
  }
}
