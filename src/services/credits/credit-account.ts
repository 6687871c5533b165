import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../database/database';
import { inPreparedTransaction, type PreparedSql } from '../../database/prepared-transaction';
import type { CreditEntryKind } from '../../entities';
import type { CreditBalanceView, CreditSource, ExpiringCredits } from './credit-ledger.types';
import { EXPIRING_SOON_DAYS } from './credit-reads';
import { type DeferredWrite, deferredWriteSql } from './deferred-writes';
import { expireDueLots } from './expiring-lots';
import type { GroupReads, LotAhead } from './group-reads';
import { type LotTake, LotsAhead } from './lots-ahead';
import { armedSql, type LowBalanceState, thresholdSql } from './low-balance-alerts';

const DAY_MS = 86_400_000;

/** One SQL statement in the account's transaction; PostgreSQL's bigints come back as strings. */
export type Sql = PreparedSql;

/** A LockedAccount's figures and unsaved writes at one moment (`mark`, `restore`). */
export interface AccountMark {
  balance: number;
  held: number;
  overageHeld: number;
  nextExpiry: Date | null;
  entries: number;
  writes: number;
  /** Lots taken in memory so far (`LotsAhead.mark`), undone back to this many. */
  lotTakes: number;
  dirty: boolean;
  touched: boolean;
}

/** What a LockedAccount would save, as values (a group's batched save writes it with others'). */
export interface PendingSave {
  accountId: string;
  balance: number;
  held: number;
  overageHeld: number;
  nextExpiry: Date | null;
  entries: readonly NewEntry[];
  writes: readonly DeferredWrite[];
}

/** An entry to append, its `balance_after` fixed when it is added (entries are written in that order). */
export interface NewEntry {
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
 * A LockedAccount of a group run below the ORM (credit-groups.ts, issue 17) has no EntityManager: a request that
 * asks for it (a spend alert's mail) throws `NeedsOrm`, and the group is rolled back and run again on the ORM's
 * transaction.
 */
export const BELOW_ORM = 'below the ORM';

export class NeedsOrm extends Error {
  constructor() {
    super('A grouped credit change needs the ORM');
  }
}

/**
 * An account's credit_balance row, locked (`FOR UPDATE`) for one transaction: every change of the account's
 * lots, entries and holds happens under it, so concurrent changes of one account run one after another and
 * each decides on what the one before left. Holds and lots past their expiry are dropped first, in the same
 * transaction, so nothing decided here counts on them.
 */
export class LockedAccount {
  private readonly entries: NewEntry[] = [];
  /** Writes nothing in this transaction reads again: sent with the next `save`, in its one statement. */
  private readonly writes: DeferredWrite[] = [];
  /**
   * The holds and members its group's requests name, read once after the group's lock (group-reads.ts, ADR 0029)
   * and set here by the group; null outside a group: every look-up reads the row.
   */
  readsAhead: GroupReads | null = null;
  /** The account's lots read ahead by its group (lots-ahead.ts); null: not read, burns send their statement. */
  private lots: LotsAhead | null = null;
  /** Changed since the last `save`. */
  private dirty = false;
  /** Changed at all in this transaction: `balanceUpdated` is due after the commit. */
  private touched = false;
  /** The soonest credits to expire within a week, as the last `save` found them (for `figures`). */
  private soonest: ExpiringCredits | null = null;

  constructor(
    readonly sql: Sql,
    readonly accountId: string,
    readonly now: Date,
    private balanceNow: number,
    private heldNow: number,
    /** The account's spend limit and the overage its live holds keep (credit-overage.ts). */
    readonly spend: { limitCents: number | null; overageHeld: number } = { limitCents: null, overageHeld: 0 },
    /** The transaction's EntityManager: a mail queued here commits or rolls back with the change. */
    private readonly entityManager: EntityManager | null | typeof BELOW_ORM = null,
    /**
     * Read with the lock: the balance row's `next_expiry_at` (no live hold or lot of the account expires before
     * it), and whether the account has automatic top-up on (its listener is told of the change after the commit).
     */
    private readonly locked: {
      nextExpiry: Date | null;
      autoTopUp: boolean;
      lowBalance: LowBalanceState | null;
    } = {
      nextExpiry: null,
      autoTopUp: false,
      lowBalance: null,
    },
  ) {}

  /** The transaction's EntityManager (null: none); throws `NeedsOrm` in a group run below the ORM. */
  get em(): EntityManager | null {
    if (this.entityManager === BELOW_ORM) throw new NeedsOrm();
    return this.entityManager;
  }

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

  /** Something waits for `save` (a group runs it before the account's next request reads what was written). */
  get unsaved(): boolean {
    return this.dirty;
  }

  /**
   * Where the account's figures stand, to go back to when one request of a group fails before it wrote anything
   * (credit-groups.ts): what it changed in memory is forgotten, and the requests after it decide without it.
   */
  mark(): AccountMark {
    return {
      balance: this.balanceNow,
      held: this.heldNow,
      overageHeld: this.spend.overageHeld,
      nextExpiry: this.locked.nextExpiry,
      entries: this.entries.length,
      writes: this.writes.length,
      lotTakes: this.lots?.mark() ?? 0,
      dirty: this.dirty,
      touched: this.touched,
    };
  }

  restore(mark: AccountMark): void {
    this.balanceNow = mark.balance;
    this.heldNow = mark.held;
    this.spend.overageHeld = mark.overageHeld;
    this.locked.nextExpiry = mark.nextExpiry;
    this.entries.length = mark.entries;
    this.writes.length = mark.writes;
    this.lots?.restore(mark.lotTakes);
    this.dirty = mark.dirty;
    this.touched = mark.touched;
  }

  /** The low-balance mail's threshold and whether it is armed, read with the lock (null: not read). */
  get lowBalance(): LowBalanceState | null {
    return this.locked.lowBalance;
  }

  /** The account has automatic top-up on (read with the lock). */
  get autoTopUp(): boolean {
    return this.locked.autoTopUp;
  }

  /** Whether a hold or lot may be past its expiry now: else dropping the expired ones would find nothing. */
  get expiryDue(): boolean {
    return this.locked.nextExpiry !== null && this.locked.nextExpiry.getTime() <= this.now.getTime();
  }

  /** A hold or a lot expiring at `at` (null: never) was added: the row's next expiry is kept no later. */
  expiring(at: Date | null): void {
    if (at === null || (this.locked.nextExpiry !== null && this.locked.nextExpiry.getTime() <= at.getTime()))
      return;
    this.locked.nextExpiry = at;
    this.dirty = true;
  }

  /** After expired holds and lots were dropped: the soonest expiry of those left (null: none can expire). */
  nextExpiryIs(at: Date | null): void {
    if ((at?.getTime() ?? null) === (this.locked.nextExpiry?.getTime() ?? null)) return;
    this.locked.nextExpiry = at;
    this.dirty = true;
  }

  /**
   * What `balanceUpdated` publishes after the commit: the figures this transaction ended with (its last `save`
   * wrote them), so no second read is needed. Nothing expired is left in them: the lock dropped what was due.
   */
  figures(): CreditBalanceView {
    return {
      balance: this.balanceNow,
      held: this.heldNow,
      available: this.available,
      expiringSoon: this.soonest,
    };
  }

  /**
   * A write sent with the next `save`, in its statement: a round trip fewer. Only for rows nothing reads again
   * before that `save`, and none of the rows `save` writes.
   */
  writeWithSave(write: DeferredWrite): void {
    this.writes.push(write);
    this.dirty = true;
  }

  /** The group read all the account's live lots ahead (group-reads.ts): burns take from them in memory. */
  set lotsAhead(lots: LotAhead[] | undefined) {
    this.lots = lots ? new LotsAhead(this.accountId, lots) : null;
  }

  /** `LotsAhead.take` on the lots read ahead (null: not read); their new `remaining` goes before the next save. */
  takeFromLotsAhead(wanted: number): Array<{ id: string; take: number }> | null {
    if (!this.lots) return null;
    const taken = this.lots.take(wanted);
    if (taken.length > 0) this.dirty = true;
    return taken;
  }

  /** The burns from the lots read ahead that wait to be written (before the save: it reads the lots). */
  pendingLotTakes(): readonly LotTake[] {
    return this.lots?.pending() ?? [];
  }

  lotTakesWritten(): void {
    this.lots?.written();
  }

  /** What `save` would write, as values (credit-save-batch.ts writes it with other accounts'). */
  pendingSave(): PendingSave {
    const { balanceNow: balance, heldNow: held, accountId } = this;
    const { overageHeld } = this.spend;
    return {
      accountId,
      balance,
      held,
      overageHeld,
      nextExpiry: this.locked.nextExpiry,
      entries: this.entries,
      writes: [...this.writes],
    };
  }

  /** `pendingSave` was written with others' (credit-save-batch.ts): as after `save`, with the soonest it read. */
  savedWith(soonest: ExpiringCredits | null): void {
    this.soonest = soonest;
    this.entries.length = 0;
    this.writes.length = 0;
    this.dirty = false;
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

  /**
   * Writes the waiting writes, the entries (in order) and the balance row in one statement, and reads the soonest
   * credits to expire (for `figures`); answers the entries' ids.
   */
  async save(): Promise<number[]> {
    if (!this.dirty) return [];
    const taking = lotTakesStatement([this], this.now);
    if (taking) await this.sql(taking.text, taking.values);
    this.lotTakesWritten();
    const statement = this.saveStatement();
    return this.savedFrom((await this.sql<SavedRow>(statement.text, statement.params))[0]);
  }

  /** `save`'s statement (a group below the ORM sends it with its COMMIT: credit-save-batch.ts); `savedFrom` its row. */
  saveStatement(): { text: string; params: unknown[] } {
    const entries = this.entries.length > 0 ? insertEntries(this.accountId, this.now, this.entries) : null;
    const statements = this.writes.map((write) => deferredWriteSql(write, this.now));
    const writes = statements.map((write, index) => `written_${index} as (${write.text}),`).join('\n');
    const soon = new Date(this.now.getTime() + EXPIRING_SOON_DAYS * DAY_MS);
    const text = `with ${writes}
            ${entries ? `written_entries as (${entries.text}),` : ''}
            written_balance as (
              update credit_balance set balance = ?, held = ?, overage_held = ?, next_expiry_at = ?,
                                        updated_at = ?
               where account_id = ?)
       select ${entries ? '(select json_agg(id order by id) from written_entries)' : "'[]'::json"} as entry_ids,
              soonest.expires_at, soonest.credits
         from (select 1) as one
         left join lateral (
           select expires_at, sum(remaining) as credits from credit_lot
            where account_id = ? and remaining > 0 and expires_at > ? and expires_at <= ?
            group by expires_at order by expires_at limit 1) soonest on true`;
    const params = [
      ...statements.flatMap((write) => write.params),
      ...(entries?.params ?? []),
      ...[
        this.balanceNow,
        this.heldNow,
        this.spend.overageHeld,
        this.locked.nextExpiry,
        this.now,
        this.accountId,
      ],
      ...[this.accountId, this.now, soon],
    ];
    return { text, params };
  }

  /** `saveStatement` was written: as after `save`, with the soonest credits it read; answers the entries' ids. */
  savedFrom(row: SavedRow | undefined): number[] {
    this.soonest = row?.expires_at ? { credits: Number(row.credits), at: new Date(row.expires_at) } : null;
    this.entries.length = 0;
    this.writes.length = 0;
    this.dirty = false;
    return (row?.entry_ids ?? []).map(Number);
  }
}

/**
 * The burns decided in memory from lots read ahead (`takeFromLotsAhead`), of one account or a group's, written as
 * one statement over arrays (null: none). Sent before the save's statement, which reads the lots left.
 */
export function lotTakesStatement(
  accounts: Iterable<LockedAccount>,
  now: Date,
): { text: string; values: [Date, string[], number[], string[]] } | null {
  const takes = [...accounts].flatMap((account) => account.pendingLotTakes());
  if (takes.length === 0) return null;
  return {
    text: `update credit_lot lot set remaining = lot.remaining - t.take, updated_at = ?
             from (select id, account_id, sum(take) as take
                     from unnest(?::uuid[], ?::bigint[], ?::varchar[]) as taken(id, take, account_id)
                    group by id, account_id) t
            where lot.id = t.id and lot.account_id = t.account_id`,
    values: [
      now,
      takes.map((taken) => taken.lotId),
      takes.map((taken) => taken.take),
      takes.map((taken) => taken.accountId),
    ],
  };
}

/** The row `LockedAccount.save`'s statement answers. */
export interface SavedRow {
  entry_ids: number[] | null;
  expires_at: Date | null;
  credits: string | null;
}

/** A ledger entry's columns up to its time, as the account's save and the group's batched save write them. */
export function entryColumns(accountId: string, entry: NewEntry): unknown[] {
  return [
    accountId,
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
  ];
}

/** The insert of the entries, in order (a `with` part of `save`'s statement). */
function insertEntries(
  accountId: string,
  now: Date,
  entries: readonly NewEntry[],
): { text: string; params: unknown[] } {
  const values = entries.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  const params = entries.flatMap((entry) => [...entryColumns(accountId, entry), now]);
  const text = `insert into credit_ledger_entry
       (account_id, kind, credits, balance_after, uncovered, billed, lot_id, reason, source_type, source_id, actor,
        created_at)
     values ${values} returning id`;
  return { text, params };
}

/** What `work` answered; when the balance or held changed, the figures the transaction ended with. */
export interface LockedResult<T> {
  value: T;
  changed: boolean;
  figures: CreditBalanceView | null;
  /** Whether the account had automatic top-up on (read with the lock): only then is its listener told. */
  autoTopUp: boolean;
  /** The low-balance mail's state, read with the lock (its check after the commit reads nothing more). */
  lowBalance: LowBalanceState | null;
}

/** How a transaction treats expired holds and lots. */
export interface LockOptions {
  /**
   * Drop them even when the balance row says none can be due (the sweeps: they found the account by its expired
   * rows, so it is dropped and its `next_expiry_at` put right even if something wrote them without it).
   */
  dropExpired?: 'when-due' | 'always';
}

/**
 * Runs `work` in one transaction holding the account's credit_balance row (made on first use), after dropping
 * its expired holds and lots when any can be due. Answers what `work` answered and, when the account's balance
 * or held changed, the figures it ended with (then `balanceUpdated` is due, after the commit).
 */
export async function inLockedAccount<T>(
  orm: Orm,
  accountId: string,
  now: Date,
  work: (account: LockedAccount) => Promise<T>,
  options: LockOptions = {},
): Promise<LockedResult<T>> {
  return inPreparedTransaction(orm, async (sql, em) => {
    const account = (await lockAccounts(sql, [accountId], now, em, options)).get(accountId) as LockedAccount;
    const value = await work(account);
    const changed = account.changed;
    await account.save();
    const figures = changed ? account.figures() : null;
    return { value, changed, figures, autoTopUp: account.autoTopUp, lowBalance: account.lowBalance };
  });
}

/**
 * The rows, locked in one statement in the byte order of their ids (`collate "C"`: every transaction that locks
 * more than one account, a group commit's (credit-groups.ts), locks them in that order, so none can deadlock), and
 * whether automatic top-up is on (read with them: otherwise a statement after every change would find nothing to
 * do; one turned on meanwhile checks the balance itself, auto-top-up.ts `configure`).
 */
export const LOCK = `select balance.account_id, balance.balance, balance.held, balance.spend_limit_cents,
                     balance.overage_held, balance.next_expiry_at,
                     exists (select 1 from credit_auto_top_up top_up
                              where top_up.account_id = balance.account_id and top_up.enabled) as auto_top_up,
                     ${thresholdSql('balance.account_id', '?')}::bigint as low_below,
                     ${armedSql('balance.account_id')} as low_armed
                from credit_balance balance where balance.account_id = any(?)
               order by balance.account_id collate "C" for update of balance`;

/** The rows of accounts never used before, made in byte order (after the others were locked: see `lockAccounts`). */
const MAKE_ROWS = `insert into credit_balance (account_id, balance, held, updated_at)
                   select id, 0, 0, ? from unnest(?::varchar[]) as id order by id collate "C"
                   on conflict do nothing`;

export interface LockRow {
  account_id: string;
  balance: string;
  held: string;
  spend_limit_cents: string | null;
  overage_held: string;
  next_expiry_at: Date | null;
  auto_top_up: boolean;
  low_below: string;
  low_armed: boolean;
}

/**
 * The accounts' rows, locked, each with its expired holds and lots dropped when any can be due: one statement,
 * except the first time an account is used (its row is made, then locked).
 */
export async function lockAccounts(
  sql: Sql,
  accountIds: readonly string[],
  now: Date,
  em: EntityManager | typeof BELOW_ORM,
  options: LockOptions = {},
  /** LOCK's rows when it ran already (a group below the ORM sends it with its `BEGIN`). */
  lockedRows?: readonly LockRow[],
): Promise<Map<string, LockedAccount>> {
  const rows = lockedRows ? [...lockedRows] : await sql<LockRow>(LOCK, [now, accountIds]);
  const missing = accountIds.filter((id) => !rows.some((row) => row.account_id === id));
  if (missing.length > 0) {
    // The missing rows after the others, so an account's first use breaks the byte order: two groups making and
    // locking each other's rows can deadlock (rare: only on first use); PostgreSQL ends one, and that group runs
    // its requests one by one (credit-groups.ts).
    await sql(MAKE_ROWS, [now, missing]);
    rows.push(...(await sql<LockRow>(LOCK, [now, missing])));
  }
  const accounts = new Map<string, LockedAccount>();
  for (const row of rows) accounts.set(row.account_id, accountOf(sql, row, now, em));
  for (const id of accountIds)
    if (!accounts.has(id)) throw new Error(`credit_balance of ${id} vanished under its lock`);
  for (const account of accounts.values())
    if (account.expiryDue || options.dropExpired === 'always') await dropExpired(account);
  return accounts;
}

function accountOf(sql: Sql, row: LockRow, now: Date, em: EntityManager | typeof BELOW_ORM): LockedAccount {
  const spend = {
    limitCents: row.spend_limit_cents === null ? null : Number(row.spend_limit_cents),
    overageHeld: Number(row.overage_held),
  };
  const locked = {
    nextExpiry: row.next_expiry_at ? new Date(row.next_expiry_at) : null,
    autoTopUp: row.auto_top_up,
    lowBalance: { below: Number(row.low_below), armed: row.low_armed },
  };
  return new LockedAccount(
    sql,
    row.account_id,
    now,
    Number(row.balance),
    Number(row.held),
    spend,
    em,
    locked,
  );
}

/**
 * Holds past their time stop counting; lots past their expiry lose what is left, less what live holds made before
 * the expiry keep (expiring-lots.ts). Then the soonest expiry of what is left is kept on the balance row (the next
 * time this is due).
 */
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
  await expireDueLots(account);
  // A lot a live hold keeps past its expiry stays due: every lock looks again until its holds are done.
  const [next] = await sql<{ next_expiry_at: Date | null }>(
    `select least((select min(expires_at) from credit_hold where account_id = ? and state = 'held'),
                  (select min(expires_at) from credit_lot where account_id = ? and remaining > 0)) as next_expiry_at`,
    [accountId, accountId],
  );
  account.nextExpiryIs(next?.next_expiry_at ? new Date(next.next_expiry_at) : null);
}
