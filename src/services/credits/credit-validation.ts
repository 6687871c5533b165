import { BadUserInputError } from '../../errors';

/** The most credits one call moves: far under 2^53, so every sum of them stays an exact JavaScript number. */
export const MAX_CREDITS_PER_CALL = 1_000_000_000_000;

/** Credits are whole units: a fraction, a negative or a huge number is refused before anything is written. */
export function wholeCredits(value: number, minimum: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < minimum || value > MAX_CREDITS_PER_CALL)
    throw new BadUserInputError(
      `${field} must be a whole number from ${minimum} to ${MAX_CREDITS_PER_CALL}`,
      field,
    );
}
