import type { CreditHoldView } from './credit-ledger.types';

/** A credit_hold row as the ledger's statements read it (PostgreSQL's bigints as strings). */
export interface HoldRow {
  id: string;
  account_id: string;
  member_id: string | null;
  credits: string;
  expires_at: Date;
  state: CreditHoldView['state'];
  model: string | null;
  priced_at: Date | null;
  overage_credits: string;
  overage_price: string | null;
  overage_currency: string | null;
  max_output_tokens: string | null;
  /** When it was made (a string when read ahead as JSON): lots that expire after it are kept for it. */
  created_at: Date | string;
}

/**
 * HoldRow's columns, named: the ledger's statements are prepared per connection (prepared-transaction.ts), and a
 * prepared `select *` fails once a migration adds a column ("cached plan must not change result type").
 */
export const HOLD_COLUMNS =
  'id, account_id, member_id, credits, expires_at, state, model, priced_at, overage_credits, overage_price, overage_currency, max_output_tokens, created_at';

export function holdOf(row: HoldRow): CreditHoldView {
  return {
    id: row.id,
    accountId: row.account_id,
    memberId: row.member_id,
    credits: Number(row.credits),
    expiresAt: new Date(row.expires_at),
    state: row.state,
    model: row.model,
    pricedAt: row.priced_at ? new Date(row.priced_at) : null,
    overageCredits: Number(row.overage_credits ?? 0),
    maxOutputTokens: row.max_output_tokens == null ? null : Number(row.max_output_tokens),
  };
}
