/**
 * A write the ledger defers to its account's next `save` (ADR 0028's hot path), kept once, as values: a new hold,
 * a settled hold, a member's month. Both ways of saving are derived from it: an account's own `save` writes it as
 * one part of its statement (`deferredWriteSql`), a group's last saves write all of them over arrays
 * (credit-save-batch.ts, ADR 0029).
 */
export type DeferredWrite =
  | {
      kind: 'hold_insert';
      /** id, account, member, credits, expires, model, priced at, overage credits, price, currency, max output. */
      row: readonly [id: string, ...columns: unknown[]];
    }
  | { kind: 'hold_settle'; row: readonly [id: string, credits: number] }
  | {
      kind: 'member_use';
      row: readonly [accountId: string, memberId: string, periodStart: Date, burned: number];
    };

/** The write as one statement (a `with` part of `LockedAccount.save`'s), `?` for each value, written at `now`. */
export function deferredWriteSql(write: DeferredWrite, now: Date): { text: string; params: unknown[] } {
  switch (write.kind) {
    case 'hold_insert': {
      const [id, ...columns] = write.row;
      return {
        text: `insert into credit_hold (id, created_at, updated_at, account_id, member_id, credits, expires_at, state,
                              model, priced_at, overage_credits, overage_price, overage_currency, max_output_tokens)
     values (?, ?, ?, ?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?)`,
        params: [id, now, now, ...columns],
      };
    }
    case 'hold_settle': {
      const [id, credits] = write.row;
      return {
        text: `update credit_hold set state = 'settled', settled_credits = ?, updated_at = ? where id = ?`,
        params: [credits, now, id],
      };
    }
    case 'member_use': {
      const [accountId, memberId, periodStart, burned] = write.row;
      return {
        text: `insert into credit_member_period (account_id, member_id, period_start, burned, updated_at)
     values (?, ?, ?, ?, ?)
     on conflict (account_id, member_id, period_start)
     do update set burned = credit_member_period.burned + excluded.burned, updated_at = excluded.updated_at`,
        params: [accountId, memberId, periodStart, burned, now],
      };
    }
  }
}
