/**
 * Proration by the second, as Stripe documents it:
 * https://docs.stripe.com/billing/subscriptions/prorations — "Stripe calculates prorations
 * down to the second" — a change mid-period produces a credit for the unused time on the old
 * price and a debit for the remaining time on the new price, each as its own invoice item.
 *
 * The single rounding point: each line is `Math.round(amount × remaining / period)` in integer
 * cents; the credit and the debit are rounded separately (they are separate invoice items).
 */

export interface ProrationInput {
  /** Old price unit amount × old quantity, in cents (0 if the item is new). */
  oldAmount: number;
  /** New price unit amount × new quantity, in cents (0 if the item is removed). */
  newAmount: number;
  periodStart: number;
  periodEnd: number;
  /** The moment of the change (`proration_date`), unix seconds. */
  prorationDate: number;
}

export interface ProrationResult {
  /** Negative cents: credit for the unused time on the old price (0 when nothing to credit). */
  credit: number;
  /** Positive cents: charge for the remaining time on the new price (0 when nothing to charge). */
  debit: number;
  /** Seconds from the proration date to the period end. */
  remainingSeconds: number;
  periodSeconds: number;
}

/** Fraction of `amount` for `remaining` of `total` seconds, rounded once to the nearest cent. */
export function prorate(amount: number, remainingSeconds: number, periodSeconds: number): number {
  assertCents(amount);
  if (periodSeconds <= 0) return 0;
  const remaining = Math.min(Math.max(remainingSeconds, 0), periodSeconds);
  // Integer arithmetic up to the division; Math.round is the documented single rounding point.
  return Math.round((amount * remaining) / periodSeconds);
}

export function computeProration(input: ProrationInput): ProrationResult {
  const periodSeconds = input.periodEnd - input.periodStart;
  const clampedDate = Math.min(Math.max(input.prorationDate, input.periodStart), input.periodEnd);
  const remainingSeconds = input.periodEnd - clampedDate;
  const creditAbs = prorate(input.oldAmount, remainingSeconds, periodSeconds);
  const debit = prorate(input.newAmount, remainingSeconds, periodSeconds);
  return { credit: creditAbs === 0 ? 0 : -creditAbs, debit, remainingSeconds, periodSeconds };
}

export function assertCents(value: number): void {
  if (!Number.isSafeInteger(value)) throw new Error(`money must be integer cents, got ${value}`);
}
