import { Matches } from 'class-validator';

/**
 * An account id an admin types (an input naming another account): printable ASCII without a space at either end,
 * as tokens name accounts. " acct_1" is another account than "acct_1": a typo would grant to nobody's account.
 */
export const ACCOUNT_ID_INPUT = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;

/** `@Matches(ACCOUNT_ID_INPUT)` with the message a caller reads (BAD_USER_INPUT). */
export function IsAccountIdInput(): PropertyDecorator {
  return Matches(ACCOUNT_ID_INPUT, {
    message: 'accountId must be 1 to 255 printable ASCII characters without a space at either end',
  });
}
