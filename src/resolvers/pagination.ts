import { BadUserInputError } from '../errors';

const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

/** `first` within 1..100 (default 20); anything else is BAD_USER_INPUT rather than a silent clamp. */
export function pageSize(first: number | null | undefined): number {
  if (first === undefined || first === null) return DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) {
    throw new BadUserInputError(`first must be between 1 and ${MAX_PAGE}`, 'first');
  }
  return first;
}

export function encodeCursor(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAtMs: number; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      createdAtMs?: unknown;
      id?: unknown;
    };
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    if (typeof value.createdAtMs === 'number' && typeof value.id === 'string' && uuid.test(value.id)) {
      return { createdAtMs: value.createdAtMs, id: value.id };
    }
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('after is not a cursor this API returned', 'after');
}
