/**
 * Money as Stripe and our tables keep it, integer minor units (1900 USD is $19.00, 500 JPY is ¥500), turned
 * into text for a reader and back. The only place an amount becomes a fraction, and only for display.
 *
 * One file that imports nothing: the service, `coditect-billing/client` and the billing page in the browser
 * (web/, which loads it as an ES module of its own) all use this same code.
 */

/**
 * Stripe's minor-unit exponent where it is not 2: amounts of these currencies are already whole units (¥500 is
 * 500) or thousandths. Stripe's list, not ISO 4217's: they differ (ISK, HUF and UGX amounts keep two decimals
 * at Stripe whatever ISO says), and the amounts we format come from Stripe.
 * https://docs.stripe.com/currencies#zero-decimal
 */
const ZERO_DECIMAL: ReadonlySet<string> = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const THREE_DECIMAL: ReadonlySet<string> = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

const DEFAULT_LOCALE = 'en-US';

/** Why money could not be formatted or parsed: branch on `code`, the message is for people. */
export const MoneyErrorCode = {
  /** Not a three-letter currency code Intl knows. */
  UNKNOWN_CURRENCY: 'UNKNOWN_CURRENCY',
  /** An amount in minor units that is not a safe integer. */
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  /** Text that is not an amount of that currency (letters, two decimal points, more decimals than it has). */
  UNPARSABLE_AMOUNT: 'UNPARSABLE_AMOUNT',
} as const;
export type MoneyErrorCode = (typeof MoneyErrorCode)[keyof typeof MoneyErrorCode];

export class MoneyError extends Error {
  override readonly name = 'MoneyError';

  constructor(
    readonly code: MoneyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** `usd` → `USD`, refusing anything that is not a currency Intl can format. */
export function currencyCode(currency: string): string {
  const code = currency.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code))
    throw new MoneyError(
      MoneyErrorCode.UNKNOWN_CURRENCY,
      `"${currency}" is not a three-letter currency code`,
    );
  return code;
}

/** How many decimals the currency's minor unit has at Stripe: USD and EUR 2, JPY 0, KWD 3. */
export function minorUnitExponent(currency: string): number {
  const code = currencyCode(currency);
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

/**
 * An amount in integer minor units for a reader: `formatMoney(1900, 'usd')` → "$19.00",
 * `formatMoney(500, 'jpy')` → "¥500", `formatMoney(1999, 'eur', 'de-DE')` → "19,99 €". Never rounds: every
 * minor unit the amount has is shown.
 */
export function formatMoney(amountMinor: number, currency: string, locale = DEFAULT_LOCALE): string {
  if (!Number.isSafeInteger(amountMinor))
    throw new MoneyError(
      MoneyErrorCode.INVALID_AMOUNT,
      `${amountMinor} is not an amount in minor units: it must be a whole number`,
    );
  const code = currencyCode(currency);
  const exponent = minorUnitExponent(code);
  const conventional = Math.min(
    exponent,
    currencyFormat(code, locale).resolvedOptions().maximumFractionDigits ?? 2,
  );
  // Where Stripe keeps more decimals than people write (HUF 1,234, kept as 123400), they are shown only when
  // they are not zero, so nothing is ever rounded away.
  const digits = amountMinor % 10 ** (exponent - conventional) === 0 ? conventional : exponent;
  const format = currencyFormat(code, locale, digits);
  // A decimal string, not `amountMinor / 100`: Intl formats it exactly, with no binary fraction in between.
  return format.format(decimalString(amountMinor, exponent));
}

/**
 * Text a person typed or `formatMoney` wrote, back to integer minor units: `parseMoney('$19.00', 'usd')` →
 * 1900, `parseMoney('¥1,500', 'jpy')` → 1500, `parseMoney('19,99 €', 'eur', 'de-DE')` → 1999. The currency's
 * symbol or code, spaces and the locale's group separators are optional; more decimals than the currency has
 * (`19.999` USD, `1.5` JPY) are refused, never rounded.
 */
export function parseMoney(text: string, currency: string, locale = DEFAULT_LOCALE): number {
  const code = currencyCode(currency);
  const exponent = minorUnitExponent(code);
  const { group, decimal, symbols } = separatorsOf(code, locale);
  const refuse = (why: string) =>
    new MoneyError(MoneyErrorCode.UNPARSABLE_AMOUNT, `"${text}" is not an amount of ${code}: ${why}`);
  let rest = text.replace(/[\s\u00a0\u202f]/g, '');
  for (const symbol of symbols) rest = rest.split(symbol).join('');
  const negative = /^[-\u2212]/.test(rest);
  if (negative) rest = rest.slice(1);
  const [whole, fraction = '', ...more] = rest.split(decimal);
  if (more.length > 0) throw refuse(`more than one decimal separator "${decimal}"`);
  const digitsOnly = whole.split(group).join('');
  const wellGrouped = whole
    .split(group)
    .every((part, index) => /^\d+$/.test(part) && (index === 0 || part.length >= 2));
  if (!wellGrouped || !/^\d*$/.test(fraction) || digitsOnly === '')
    throw refuse('expected digits, like 1,234.56');
  if (fraction.length > exponent)
    throw refuse(exponent === 0 ? `${code} has no decimals` : `${code} has ${exponent} decimals at most`);
  const minor = Number(digitsOnly + fraction.padEnd(exponent, '0'));
  if (!Number.isSafeInteger(minor)) throw refuse('too large');
  return negative && minor !== 0 ? -minor : minor;
}

function currencyFormat(code: string, locale: string, fractionDigits?: number): Intl.NumberFormat {
  try {
    return new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: code,
      ...(fractionDigits === undefined
        ? {}
        : { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits }),
    });
  } catch (error) {
    throw new MoneyError(
      MoneyErrorCode.UNKNOWN_CURRENCY,
      `${code} cannot be formatted: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** -123456 with exponent 2 → "-1234.56"; with exponent 0 → "-123456". */
function decimalString(amountMinor: number, exponent: number): `${number}` {
  const digits = String(Math.abs(amountMinor)).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  // Digits, one optional point, one optional sign: a numeric literal by construction.
  return `${amountMinor < 0 ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}` as `${number}`;
}

/** The locale's separators and every way it writes the currency (symbol and code), as `formatMoney` would. */
function separatorsOf(code: string, locale: string): { group: string; decimal: string; symbols: string[] } {
  const parts = currencyFormat(code, locale, 1).formatToParts(11111.1);
  const part = (type: Intl.NumberFormatPartTypes, fallback: string) =>
    parts.find((candidate) => candidate.type === type)?.value ?? fallback;
  const symbols = new Set([part('currency', code), code]);
  for (const currencyDisplay of ['symbol', 'narrowSymbol', 'code'] as const) {
    const shown = new Intl.NumberFormat(locale, { style: 'currency', currency: code, currencyDisplay })
      .formatToParts(1)
      .find((candidate) => candidate.type === 'currency')?.value;
    if (shown) symbols.add(shown);
  }
  // Longest first: "US$" before "$".
  return {
    group: part('group', ','),
    decimal: part('decimal', '.'),
    symbols: [...symbols].sort((a, b) => b.length - a.length),
  };
}
