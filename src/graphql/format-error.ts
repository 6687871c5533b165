import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CLIENT_ERROR_CODES, ErrorCode } from '../errors';
import { QueryTooComplexError } from './query-limits';

/** Codes Apollo itself raises for malformed requests: safe to show as they are. */
export const APOLLO_REQUEST_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

interface ValidationErrorLike {
  property?: string;
  constraints?: Record<string, string>;
}

/**
 * What a client may see of an error: deliberate errors keep their message and code; validation errors name
 * the field; anything unexpected becomes INTERNAL_SERVER_ERROR with the request id, and is logged in full.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  onUnexpected: (formatted: GraphQLFormattedError) => void,
  error?: unknown,
): GraphQLFormattedError {
  // Apollo reports every validation error as GRAPHQL_VALIDATION_FAILED; a query limit keeps its own code.
  if (queryLimitOf(error)) formatted = withCode(formatted, ErrorCode.QUERY_TOO_COMPLEX);
  const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : undefined;
  if (code === ErrorCode.BAD_USER_INPUT && Array.isArray(formatted.extensions?.validationErrors)) {
    return validationError(formatted, formatted.extensions.validationErrors as ValidationErrorLike[]);
  }
  if (code && (CLIENT_ERROR_CODES.has(code) || APOLLO_REQUEST_CODES.has(code))) {
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  onUnexpected(formatted);
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

function queryLimitOf(error: unknown): QueryTooComplexError | null {
  if (error instanceof QueryTooComplexError) return error;
  const original = error instanceof GraphQLError ? error.originalError : null;
  return original instanceof QueryTooComplexError ? original : null;
}

function withCode(formatted: GraphQLFormattedError, code: string): GraphQLFormattedError {
  return { ...formatted, extensions: { ...formatted.extensions, code } };
}

function validationError(
  formatted: GraphQLFormattedError,
  errors: ValidationErrorLike[],
): GraphQLFormattedError {
  const first = errors[0];
  const reasons = errors.flatMap((error) => Object.values(error.constraints ?? {}));
  return {
    message: reasons.length > 0 ? `Invalid input: ${reasons.join('; ')}` : formatted.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.BAD_USER_INPUT, field: first?.property ?? null },
  };
}
