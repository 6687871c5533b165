/** Members' monthly credit limits (issue 17, item 4; docs/credits.md "Members' limits"). Credits are whole. */

export interface SetMemberLimit {
  accountId: string;
  /** The calling service's id of the member: 1 to 128 printable ASCII characters, no space at either end. */
  memberId: string;
  /** Whole credits per calendar month (UTC), 0 or more; null removes the limit. */
  monthlyCredits: number | null;
  /** Who set it: `customer:<account>` or `admin:<account>`. */
  actor: string;
}

/** One member's month: the limit, what settled work used, what live holds keep, and what is left. */
export interface MemberUsageView {
  memberId: string;
  /** null: no limit (the account's balance is the only one). */
  monthlyCredits: number | null;
  /** What the member's settled work used this month (burned, and any part the balance left uncovered). */
  used: number;
  /** What the member's live holds keep for work in progress. */
  held: number;
  /** limit - used - held, never below 0; null without a limit. */
  remaining: number | null;
  periodStart: Date;
  periodEnd: Date;
}

export interface MemberUsagePage {
  members: MemberUsageView[];
  hasNextPage: boolean;
}
