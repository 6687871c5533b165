import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../database/database';
import type { CreditEntryKind } from '../../entities';
import type { CreditSource } from './credit-ledger.types';

/** One SQL statement in the account's transaction; PostgreSQL's bigints come back as strings. */
export type Sql = <Row extends object>(text: string, params?: readonly unknown[]) => Promise<Row[]>;

/** An entry to append, its `balance_after` fixed when it is added (entries are written in that order). */
interface NewEntry {
  kind: CreditEntryKind;
  credits: number;
  balanceAfter: number;
  uncovered: number;
  /** Of `uncovered`, billed as overage (credit-overage.ts); 0 when left out. */
  billed?: number;
  lotId: string | null;
  reason: string;
  source: CreditSource;
  actor: string;
}

export type EntryDraft = Omit<NewEntry, 'balanceAfter'>;

/**
 * An account's credit_balance row, locked (`FOR UPDATE`) for one transaction: every change of the account's
 * lots, entries and holds happens under it, so concurrent changes of one account run one after another and
 * each decides on what the one before left. Holds and lots past their expiry are dropped first, in the same
 * transaction, so nothing decided here counts on them.
 */
export class LockedAccount {
  private readonly entries: NewEntry[] = [];
  /** Changed since the last `save`. */
  private dirty = false;
  /** Changed at all in this transaction: `balanceUpdated` is due after the commit. */
  private touched = false;

  constructor(
    readonly sql: Sql,
    readonly accountId: string,
    readonly now: Date,
    private balanceNow: number,
    private heldNow: number,
    /** The account's spend limit and the overage its live holds keep (credit-overage.ts). */
    readonly spend: { limitCents: number | null; overageHeld: number } = { limitCents: null, overageHeld: 0 },
    /** The transaction's EntityManager: a mail queued here commits or rolls back with the change. */
    readonly em: EntityManager | null = null,
  ) {}

  get balance(): number {
    return this.balanceNow;
  }

  get held(): number {
    return this.heldNow;
  }

  /** Credits live holds keep beyond the balance (billed as overage if the work uses them). */
  get overageHeld(): number {
    return this.spend.overageHeld;
  }

  /** What a hold or a burn may take: the balance less what holds keep, never below zero. */
  get available(): number {
    return Math.max(0, this.balanceNow - this.heldNow);
  }

  get changed(): boolean {
    return this.touched;
  }

  /** Changes the balance by the entry's credits and appends the entry (written by `save`). */
  record(entry: EntryDraft): void {
    this.balanceNow += entry.credits;
    this.entries.push({ ...entry, balanceAfter: this.balanceNow });
    this.dirty = true;
    this.touched = true;
  }

  changeHeld(delta: number): void {
    if (delta === 0) return;
    this.heldNow += delta;
    this.dirty = true;
    this.touched = true;
  }

  changeOverageHeld(delta: number): void {
    if (delta === 0) return;
    this.spend.overageHeld += delta;
    this.dirty = true;
    this.touched = true;
  }

  /** Writes the entries (in order) and the balance row; answers the entries' ids. */
  async save(): Promise<number[]> {
    if (!this.dirty) return [];
    const ids = await this.insertEntries();
    await this.sql(
      'update credit_balance set balance = ?, held = ?, overage_held = ?, updated_at = ? where account_id = ?',
      [this.balanceNow, this.heldNow, this.spend.overageHeld, this.now, this.accountId],
    );
    this.entries.length = 0;
    this.dirty = false;
    return ids;
  }

  private async insertEntries(): Promise<number[]> {
    if (this.entries.length === 0) return [];
    const values = this.entries.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    const params = this.entries.flatMap((entry) => [
      this.accountId,
      entry.kind,
      entry.credits,
      entry.balanceAfter,
      entry.uncovered,
      entry.billed ?? 0,
      entry.lotId,
      entry.reason,
      entry.source.type,
      entry.source.id,
      entry.actor,
      this.now,
    ]);
    const rows = await this.sql<{ id: string }>(
      `insert into credit_ledger_entry
         (account_id, kind, credits, balance_after, uncovered, billed, lot_id, reason, source_type, source_id, actor,
          created_at)
       values ${values} returning id`,
      params,
    );
    return rows.map((row) => Number(row.id));
  }
}

/**
 * Runs `work` in one transaction holding the account's credit_balance row (made on first use), after dropping
 * its expired holds and lots. Answers what `work` answered and whether the account's balance or held changed
 * (then `balanceUpdated` is due, after the commit).
 */
export async function inLockedAccount<T>(
  orm: Orm,
  accountId: string,
  now: Date,
  work: (account: LockedAccount) => Promise<T>,
): Promise<{ value: T; changed: boolean }> {
  return orm.em.fork().transactional(async (em) => {
    const connection = em.getConnection();
    const context = em.getTransactionContext();
    const sql: Sql = (text, params = []) => connection.execute(text, [...params], 'all', context);
    const account = await lock(sql, accountId, now, em);
    await dropExpired(account);
    const value = await work(account);
    const changed = account.changed;
    await account.save();
    return { value, changed };
  });
}

async function lock(sql: Sql, accountId: string, now: Date, em: EntityManager): Promise<LockedAccount> {
  await sql(
    'insert into credit_balance (account_id, balance, held, updated_at) values (?, 0, 0, ?) on conflict do nothing',
    [accountId, now],
  );
  const [row] = await sql<{
    balance: string;
    held: string;
    spend_limit_cents: string | null;
    overage_held: string;
  }>(
    'select balance, held, spend_limit_cents, overage_held from credit_balance where account_id = ? for update',
    [accountId],
  );
  if (!row) throw new Error(`credit_balance of ${accountId} vanished under its lock`);
  const spend = {
    limitCents: row.spend_limit_cents === null ? null : Number(row.spend_limit_cents),
    overageHeld: Number(row.overage_held),
  };
  return new LockedAccount(sql, accountId, now, Number(row.balance), Number(row.held), spend, em);
}

/** Holds past their time stop counting; lots past their expiry lose what is left (an `expiry` entry each). */
async function dropExpired(account: LockedAccount): Promise<void> {
  const { sql, accountId, now } = account;
  const holds = await sql<{ credits: string; overage_credits: string }>(
    `update credit_hold set state = 'expired', updated_at = ?
      where account_id = ? and state = 'held' and expires_at <= ? returning credits, overage_credits`,
    [now, accountId, now],
  );
  // A hold keeps its covered part in `held` and the rest against the spend limit (credit-overage.ts).
  const overage = holds.reduce((sum, hold) => sum + Number(hold.overage_credits), 0);
  account.changeHeld(overage - holds.reduce((sum, hold) => sum + Number(hold.credits), 0));
  account.changeOverageHeld(-overage);
  const lots = await sql<{ id: string; expired: string; source_type: string; source_id: string }>(
    `with due as (
       select id, remaining from credit_lot
        where account_id = ? and remaining > 0 and expires_at <= ?
        order by expires_at, created_at, id)
     update credit_lot lot set remaining = 0, updated_at = ? from due where lot.id = due.id
     returning lot.id, due.remaining as expired, lot.source_type, lot.source_id`,
    [accountId, now, now],
  );
  for (const lot of lots)
    account.record({
      kind: 'expiry',
      credits: -Number(lot.expired),
      uncovered: 0,
      lotId: lot.id,
      reason: 'Expired unspent',
      source: { type: lot.source_type, id: lot.source_id },
      actor: 'system',
    });
}
