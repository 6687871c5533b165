/**
 * A member's limit is monthly: the calendar month in UTC, the same for every account and every member, so the
 * hold needs no plan or subscription read to know it (docs/credits.md "Members' limits").
 */
export interface MemberPeriod {
  start: Date;
  end: Date;
}

export function memberPeriodAt(now: Date): MemberPeriod {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  return { start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}
