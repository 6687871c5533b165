/**
 * Stripe's test cards (https://docs.stripe.com/testing): which card a test id, token or number
 * stands for, and what happens when it is attached or charged.
 */
export type ChargeOutcome = { ok: true } | { ok: false; code: string; decline_code: string; message: string };

export interface CardSpec {
  number: string;
  brand: string;
  funding: 'credit' | 'debit';
  country: string;
  /** What charging it does. */
  outcome: ChargeOutcome;
  /**
   * Whether attaching it to a customer fails with the same decline. Stripe's decline test cards
   * can't be attached; 4000 0000 0000 0341 is the one that attaches and then fails charges.
   */
  attachFails: boolean;
  /** The dispute the card's issuer opens once a charge on it succeeds (dispute test cards), else null. */
  dispute: DisputeSpec | null;
  /** When the issuer asks for 3-D Secure before charging; `outcome` is what the charge does once approved. */
  authentication: Authentication;
}

/**
 * Stripe's authentication test cards (https://docs.stripe.com/testing#authentication-and-setup):
 * `always`: every payment asks (…3184, and the 3DS2 card …3220); `on_session`: payments the customer makes while
 * present ask, off-session payments of a card set up for them (a subscription's renewals) do not (…3155).
 */
export type Authentication = 'none' | 'always' | 'on_session';

const AUTHENTICATION: Record<string, Authentication> = {
  '4000002760003184': 'always',
  '4000000000003220': 'always',
  // …3178: asks, and once approved the charge is declined for insufficient funds (its `outcome` below).
  '4000008260003178': 'always',
  '4000002500003155': 'on_session',
};

/** What a dispute test card's issuer opens after a successful charge. */
export interface DisputeSpec {
  reason: 'fraudulent' | 'product_not_received';
  /** An inquiry (`warning_needs_response`, no funds withdrawn) rather than a chargeback. */
  inquiry: boolean;
}

/**
 * Stripe's dispute test cards (https://docs.stripe.com/testing#disputes): the charge succeeds,
 * then the issuer disputes it. The Stripe CLI's own `charge.dispute.*` fixtures charge
 * `pm_card_createDisputeInquiry` and list the dispute right after, so it exists at once.
 */
const DISPUTE_CARDS: Record<string, DisputeSpec> = {
  '4000000000000259': { reason: 'fraudulent', inquiry: false },
  '4000000000002685': { reason: 'product_not_received', inquiry: false },
  '4000000000001976': { reason: 'fraudulent', inquiry: true },
};

const decline = (decline_code: string, message: string, code = 'card_declined'): ChargeOutcome => ({
  ok: false,
  code,
  decline_code,
  message,
});

const DECLINED = decline('generic_decline', 'Your card was declined.');

/** Behaviour by full card number; any other Luhn-valid number simply succeeds. */
const SPECIAL: Record<string, { outcome: ChargeOutcome; attachFails: boolean }> = {
  '4000000000000002': { outcome: DECLINED, attachFails: true },
  '4000000000009995': {
    outcome: decline('insufficient_funds', 'Your card has insufficient funds.'),
    attachFails: true,
  },
  '4000000000009987': { outcome: decline('lost_card', 'Your card was declined.'), attachFails: true },
  '4000000000009979': { outcome: decline('stolen_card', 'Your card was declined.'), attachFails: true },
  '4000000000000069': {
    outcome: decline('expired_card', 'Your card has expired.', 'expired_card'),
    attachFails: true,
  },
  '4000000000000127': {
    outcome: decline('incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc'),
    attachFails: true,
  },
  '4000000000000119': {
    outcome: decline(
      'processing_error',
      'An error occurred while processing your card. Try again in a little bit.',
      'processing_error',
    ),
    attachFails: true,
  },
  '4000000000000341': { outcome: DECLINED, attachFails: false },
  '4000008260003178': {
    outcome: decline('insufficient_funds', 'Your card has insufficient funds.'),
    attachFails: false,
  },
};

/** `pm_card_*` test ids and `tok_*` test tokens → card numbers. */
const TEST_IDS: Record<string, string> = {
  visa: '4242424242424242',
  visa_debit: '4000056655665556',
  mastercard: '5555555555554444',
  amex: '378282246310005',
  discover: '6011111111111117',
  chargeDeclined: '4000000000000002',
  visa_chargeDeclined: '4000000000000002',
  chargeDeclinedInsufficientFunds: '4000000000009995',
  visa_chargeDeclinedInsufficientFunds: '4000000000009995',
  chargeDeclinedLostCard: '4000000000009987',
  visa_chargeDeclinedLostCard: '4000000000009987',
  chargeDeclinedStolenCard: '4000000000009979',
  visa_chargeDeclinedStolenCard: '4000000000009979',
  chargeDeclinedExpiredCard: '4000000000000069',
  visa_chargeDeclinedExpiredCard: '4000000000000069',
  chargeDeclinedIncorrectCvc: '4000000000000127',
  chargeDeclinedProcessingError: '4000000000000119',
  chargeCustomerFail: '4000000000000341',
  visa_chargeCustomerFail: '4000000000000341',
  threeDSecure2Required: '4000000000003220',
  // The names of https://docs.stripe.com/testing#authentication-and-setup.
  authenticationRequired: '4000002760003184',
  authenticationRequiredOnSetup: '4000002500003155',
  authenticationRequiredChargeDeclinedInsufficientFunds: '4000008260003178',
  createDispute: '4000000000000259',
  createDisputeProductNotReceived: '4000000000002685',
  createDisputeInquiry: '4000000000001976',
};

/** The card number a `pm_card_x` / `tok_x` test id stands for, or undefined. */
export function testIdNumber(id: string): string | undefined {
  const m = /^(?:pm_card_|tok_)(.+)$/.exec(id);
  return m ? TEST_IDS[m[1]] : undefined;
}

export function luhnValid(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function brandOf(number: string): string {
  if (/^4/.test(number)) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(number)) return 'discover';
  if (/^35/.test(number)) return 'jcb';
  if (/^3(0|6|8)/.test(number)) return 'diners';
  return 'unknown';
}

/** The spec of a (Luhn-valid) card number. */
export function cardSpec(number: string): CardSpec {
  const special = SPECIAL[number];
  return {
    number,
    brand: brandOf(number),
    funding: number === '4000056655665556' ? 'debit' : 'credit',
    country: 'US',
    outcome: special?.outcome ?? { ok: true },
    attachFails: special?.attachFails ?? false,
    dispute: DISPUTE_CARDS[number] ?? null,
    authentication: AUTHENTICATION[number] ?? 'none',
  };
}
