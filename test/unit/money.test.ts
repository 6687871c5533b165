import { formatMoney, MoneyError, MoneyErrorCode, minorUnitExponent, parseMoney } from '../../src/money';

/** Intl separates a currency code from the number with a no-break space; the tests read plain spaces. */
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');

function errorOf(action: () => unknown): MoneyError {
  try {
    action();
  } catch (error) {
    if (error instanceof MoneyError) return error;
    throw error;
  }
  throw new Error('expected a MoneyError, nothing was thrown');
}

describe('the currency exponent', () => {
  it.each([
    ['usd', 2],
    ['EUR', 2],
    ['jpy', 0],
    ['krw', 0],
    ['kwd', 3],
  ])('%s has %d decimals', (currency, exponent) => {
    expect(minorUnitExponent(currency)).toBe(exponent);
  });
});

describe('formatMoney: integer minor units for a reader', () => {
  it.each([
    [1900, 'usd', '$19.00'],
    [250, 'usd', '$2.50'],
    [5, 'USD', '$0.05'],
    [0, 'usd', '$0.00'],
    [-1900, 'usd', '-$19.00'],
    [123456789, 'usd', '$1,234,567.89'],
    [1999, 'eur', '€19.99'],
    [100, 'EUR', '€1.00'],
    [500, 'jpy', '¥500'],
    [120000, 'JPY', '¥120,000'],
    [1, 'jpy', '¥1'],
    [5000, 'krw', '₩5,000'],
    [1500, 'kwd', 'KWD 1.500'],
  ])('%d %s → %s', (amount, currency, expected) => {
    expect(plain(formatMoney(amount, currency))).toBe(expected);
  });

  it('writes the locale the reader asked for', () => {
    expect(plain(formatMoney(1999, 'eur', 'de-DE'))).toBe('19,99 €');
    expect(plain(formatMoney(123456, 'jpy', 'ja-JP'))).toBe('￥123,456');
  });

  it('never rounds a minor unit away, even past the decimals people usually write (HUF)', () => {
    expect(plain(formatMoney(123400, 'huf'))).toBe('HUF 1,234');
    expect(plain(formatMoney(123450, 'huf'))).toBe('HUF 1,234.50');
  });

  it('is exact for the largest amounts, with no binary fraction in between', () => {
    expect(formatMoney(Number.MAX_SAFE_INTEGER, 'usd')).toBe('$90,071,992,547,409.91');
  });

  it.each([
    [19.5, 'usd'],
    [Number.NaN, 'usd'],
    [Number.POSITIVE_INFINITY, 'eur'],
    [2 ** 53, 'jpy'],
  ])('refuses %d %s: not a whole number of minor units', (amount, currency) => {
    const error = errorOf(() => formatMoney(amount, currency));
    expect(error.code).toBe(MoneyErrorCode.INVALID_AMOUNT);
    expect(error.message).toMatch(/must be a whole number/);
  });

  it.each(['', 'dollars', 'US', 'U$D'])('refuses the currency %p', (currency) => {
    const error = errorOf(() => formatMoney(100, currency));
    expect(error.code).toBe(MoneyErrorCode.UNKNOWN_CURRENCY);
    expect(error.message).toMatch(/not a three-letter currency code/);
  });
});

describe('parseMoney: text back to integer minor units', () => {
  it.each([
    ['$19.00', 'usd', 1900],
    ['19', 'usd', 1900],
    ['19.5', 'usd', 1950],
    ['0.05', 'USD', 5],
    ['$1,234,567.89', 'usd', 123456789],
    ['-$19.00', 'usd', -1900],
    ['  USD 19.00 ', 'usd', 1900],
    ['€19.99', 'eur', 1999],
    ['EUR 1,000', 'eur', 100000],
    ['¥500', 'jpy', 500],
    ['¥120,000', 'JPY', 120000],
    ['JPY 7', 'jpy', 7],
    ['KWD 1.500', 'kwd', 1500],
  ])('%p %s → %d', (text, currency, expected) => {
    expect(parseMoney(text, currency)).toBe(expected);
  });

  it('reads the locale it is given', () => {
    expect(parseMoney('19,99 €', 'eur', 'de-DE')).toBe(1999);
    expect(parseMoney('1.234,50 €', 'eur', 'de-DE')).toBe(123450);
  });

  it.each([
    ['1.5', 'jpy', /JPY has no decimals/],
    ['¥1.00', 'jpy', /JPY has no decimals/],
    ['19.999', 'usd', /USD has 2 decimals at most/],
    ['19.001', 'eur', /EUR has 2 decimals at most/],
    ['', 'usd', /expected digits/],
    ['$', 'usd', /expected digits/],
    ['abc', 'eur', /expected digits/],
    ['19.00.00', 'usd', /more than one decimal separator/],
    ['1,,000', 'usd', /expected digits/],
    ['1,0', 'usd', /expected digits/],
    ['12e3', 'usd', /expected digits/],
    ['99999999999999999', 'usd', /too large/],
  ])('refuses %p %s, saying why', (text, currency, why) => {
    const error = errorOf(() => parseMoney(text, currency));
    expect(error.code).toBe(MoneyErrorCode.UNPARSABLE_AMOUNT);
    expect(error.message).toMatch(why);
  });

  it('refuses an unknown currency before reading the amount', () => {
    expect(errorOf(() => parseMoney('19.00', 'dollars')).code).toBe(MoneyErrorCode.UNKNOWN_CURRENCY);
  });
});

describe('a round trip returns the amount', () => {
  const amounts = [0, 1, 5, 99, 100, 1900, 1999, 123456789, -1900, Number.MAX_SAFE_INTEGER];
  it.each(['usd', 'eur', 'jpy'])('%s, in en-US and de-DE', (currency) => {
    for (const amount of amounts)
      for (const locale of ['en-US', 'de-DE'])
        expect(parseMoney(formatMoney(amount, currency, locale), currency, locale)).toBe(amount);
  });
});
