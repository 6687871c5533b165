/** Stripe's error object and the HTTP statuses that carry it (https://docs.stripe.com/api/errors). */
export type StripeErrorType =
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'invalid_request_error'
  | 'authentication_error'
  | 'rate_limit_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  code?: string;
  decline_code?: string;
  message: string;
  param?: string;
  doc_url?: string;
  /** Extra fields Stripe adds on some errors (e.g. `payment_method`, `request_log_url`). */
  [extra: string]: unknown;
}

/** Throw this from a handler: the router turns it into `{error: {...}}` with `status`. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /** Extra response headers, e.g. `Stripe-Should-Retry`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

function docUrl(code: string | undefined): string | undefined {
  return code ? `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` : undefined;
}

/** 400 invalid_request_error; `param` names the offending parameter as Stripe does (`items[0][price]`). */
export function invalidRequest(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'invalid_request_error',
    message,
    ...(code ? { code, doc_url: docUrl(code) } : {}),
    ...(param ? { param } : {}),
  });
}

/**
 * 400 `parameter_invalid_integer`: "Invalid integer: abc", the param named as sent. Stripe's
 * answer to a non-integer where it expects one (e.g. `amount=9175.2` → "Invalid integer: 9175.2",
 * param `amount`; `amount=NaN` → code `parameter_invalid_integer`, seen by integrators in
 * stripe-samples/react-elements-netlify-serverless#4 and stripe/stripe-cli#585).
 */
export function invalidInteger(value: string, param: string): StripeApiError {
  return invalidRequest(`Invalid integer: ${value}`, param, 'parameter_invalid_integer');
}

/** 400 `parameter_missing`, Stripe's wording. */
export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing');
}

/** 404 `resource_missing`: "No such customer: 'cus_x'". `label` is the noun Stripe uses. */
export function notFound(label: string, id: string, param = 'id'): StripeApiError {
  return new StripeApiError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    doc_url: docUrl('resource_missing'),
    message: `No such ${label}: '${id}'`,
    param,
  });
}

/** 402 card_error, e.g. code `card_declined`, decline_code `insufficient_funds`. */
export function cardError(
  code: string,
  message: string,
  declineCode?: string,
  extra: Record<string, unknown> = {},
): StripeApiError {
  return new StripeApiError(402, {
    type: 'card_error',
    code,
    message,
    ...(declineCode ? { decline_code: declineCode } : {}),
    doc_url: docUrl(code),
    ...extra,
  });
}

export function unauthorized(message: string): StripeApiError {
  // Stripe answers a bad key with type invalid_request_error and status 401.
  return new StripeApiError(401, { type: 'invalid_request_error', message });
}

export function rateLimited(): StripeApiError {
  return new StripeApiError(429, {
    type: 'invalid_request_error',
    code: 'rate_limit',
    doc_url: docUrl('rate_limit'),
    message:
      'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
  });
}

export function apiError(message = 'An unknown error occurred'): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message });
}

export function idempotencyMismatch(key: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'idempotency_error',
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  });
}

export function idempotencyConflict(): StripeApiError {
  return new StripeApiError(409, {
    type: 'idempotency_error',
    code: 'idempotency_key_in_use',
    message:
      'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): please try again later.',
  });
}

/** 404 for a path nothing serves, worded as Stripe words it. */
export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(404, {
    type: 'invalid_request_error',
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}

/** 400 `parameter_unknown`, Stripe's wording. */
export function unknownParam(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, param, 'parameter_unknown');
}
