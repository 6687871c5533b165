/**
 * JSON logs (pino). Anything that could carry a secret is redacted by path, so a careless log line still
 * cannot leak a token, a signature or a key.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'headers.authorization',
  'headers["stripe-signature"]',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["stripe-signature"]',
  'connectionParams.authorization',
  '*.connectionParams.authorization',
  'authorization',
  'token',
  'secret',
  'apiKey',
  'password',
  '*.token',
  '*.secret',
  '*.apiKey',
  '*.password',
  '*.secretKey',
  '*.webhookSecret',
  '*.webhookSecrets',
  '*.jwtSecret',
  '*.metricsToken',
  '*.*.secretKey',
  '*.*.webhookSecret',
  '*.*.webhookSecrets',
  '*.*.jwtSecret',
  '*.*.metricsToken',
  '*.*.token',
  'card.number',
  'card.cvc',
  '*.card.number',
  '*.card.cvc',
];

/**
 * Where a secret may start: a word boundary, or just after a percent-encoding (`%22`, `%20` in a URL's query) or
 * a JSON escape (`\n` in a serialized line), where `\b` does not hold.
 */
const START = String.raw`(?:\b|(?<=%[0-9A-Fa-f]{2}|\\[nrt]))`;

/**
 * Secrets by their shape, for text the paths cannot reach (a message, an error's message, stack or cause, a URL,
 * any field): JWTs, Stripe secret and restricted keys, webhook signing secrets, bearer credentials, and card
 * numbers (13–19 digits passing the Luhn check).
 */
/**
 * Where a JWT may start: not inside a run of its own characters (`-` is one, and a word boundary: with `\b` a
 * line of `eyJ-eyJ-…` would start a scan at every `eyJ`, each to the end of the run: quadratic in a log line
 * anyone can write through a URL), or just after an encoding as above.
 */
const JWT_START = String.raw`(?:(?<![\w-])|(?<=%[0-9A-Fa-f]{2}|\\[nrt]))`;
const SECRET_SHAPES = new RegExp(
  String.raw`${JWT_START}eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*|${START}(?:sk|rk)_(?:test|live)_\w+|${START}whsec_\w+`,
  'g',
);
const BEARER = /\bBearer\s+(?!\[redacted\])[^\s"\\,;]+/gi;
const DIGIT_RUN = new RegExp(String.raw`${START}\d(?:[ -]?\d){12,18}\b`, 'g');
/** Header values in a serialized line, whatever their case (`Authorization`), and whatever their shape. */
const SECRET_HEADERS =
  /"(authorization|proxy-authorization|cookie|set-cookie|stripe-signature|x-api-key)":"(?:[^"\\]|\\.)*"/gi;

/** `text` with anything shaped like a secret or a card number replaced by `[redacted]`. */
export function scrubSecrets(text: string): string {
  return text
    .replace(SECRET_SHAPES, '[redacted]')
    .replace(BEARER, 'Bearer [redacted]')
    .replace(DIGIT_RUN, (run: string, offset: number, whole: string) => {
      const digits = run.replace(/[ -]/g, '');
      if (luhnValid(digits)) return '[redacted]';
      // `%22` before a number: the run began with the encoding's own digits.
      if (whole[offset - 1] === '%' && /^\d\d/.test(run) && digits.length >= 15 && luhnValid(digits.slice(2)))
        return `${run.slice(0, 2)}[redacted]`;
      return run;
    });
}

const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;

/**
 * The last pass over every serialized line, so nothing escapes whatever field it hides in (an error's extra
 * property or cause, a request URL, a header in another case). Only string values are scrubbed (numbers such as
 * `time` are left alone, or a timestamp that happens to pass Luhn would go), and replacements hold no quote or
 * backslash: the line stays valid JSON.
 */
export function scrubLogLine(line: string): string {
  return line.replace(JSON_STRING, scrubSecrets).replace(SECRET_HEADERS, '"$1":"[redacted]"');
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}
