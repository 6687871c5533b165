/** Topics published on the pub/sub; each is scoped by account id (see `channelOf`). */
export const Topic = {
  ACCOUNT_UPDATED: 'ACCOUNT_UPDATED',
  USAGE_UPDATED: 'USAGE_UPDATED',
  /** An account's credits (balance or held) changed: published after the ledger's transaction commits. */
  BALANCE_UPDATED: 'BALANCE_UPDATED',
  /** One channel for every account: each instance drops its cached allowances of the account named. */
  ENTITLEMENTS_CHANGED: 'ENTITLEMENTS_CHANGED',
} as const;

/** Published with every `ACCOUNT_UPDATED`, on the one channel all instances listen to. */
export interface EntitlementsChangedPayload {
  accountId: string;
}

/** Published after a billing change of an account has been committed. */
export interface AccountUpdatedPayload {
  accountId: string;
  /** What changed, e.g. `subscription.updated`: for logs and clients that care. */
  reason: string;
}

/** An account's usage of one metric in one usage period, as the API shows it and `USAGE_UPDATED` publishes it. */
export interface UsageFigures {
  metric: string;
  used: number;
  /** null = unlimited */
  included: number | null;
  /** null = unlimited */
  remaining: number | null;
  /** Past the included amount: billed where the plan allows, else refused before it happens. */
  overage: number;
  periodStart: Date;
  periodEnd: Date;
}

/** Published when an account's usage of a metric changes (throttled by the usage meter). */
export interface UsageUpdatedPayload extends UsageFigures {
  accountId: string;
}

/** An account's credits as `viewer.balance` shows them, published on `BALANCE_UPDATED`. */
export interface BalanceUpdatedPayload {
  accountId: string;
  balance: number;
  held: number;
  available: number;
  expiringSoon: { credits: number; at: Date } | null;
}
