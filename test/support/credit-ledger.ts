import { openDatabase } from '../../src/database/database';
import type { Orm } from '../../src/database/database';
import { silentLogger } from '../../src/logging/logger';
import { InMemoryPubSub } from '../../src/pubsub/in-memory-pubsub';
import { CreditEvents } from '../../src/services/credits/credit-events';
import { CreditLedger } from '../../src/services/credits/credit-ledger';
import { createTestDatabase, type TestDatabase } from './database';

/** A clock a test moves by hand. */
export class HandClock {
  constructor(private at: Date) {}
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at = new Date(this.at.getTime() + ms);
  }
}

export interface LedgerHarness {
  ledger: CreditLedger;
  orm: Orm;
  clock: HandClock;
  pubSub: InMemoryPubSub;
  database: TestDatabase;
  /** The invariants, as the database has them for one account (balance row, entries, lots, holds). */
  sums(accountId: string): Promise<LedgerSums>;
  close(): Promise<void>;
}

export interface LedgerSums {
  balance: number;
  held: number;
  entries: number;
  lots: number;
  /** What live holds keep of the balance (their credits less the part beyond it). */
  liveHolds: number;
  /** The balance row's `overage_held`, and what live holds keep beyond the balance. */
  overageHeld: number;
  liveOverage: number;
  /** Burn entries' uncovered and billed credits, and the `ai_credits` counters' total (what is reported). */
  uncovered: number;
  billed: number;
  overageCounted: number;
  /** The account's periods' `credit_spend.overage_credits`. */
  overageSpent: number;
}

/** The ledger service over a fresh migrated database of its own, on a hand-moved clock. */
export async function openLedger(start = new Date('2026-12-07T10:00:00Z')): Promise<LedgerHarness> {
  const database = await createTestDatabase();
  const orm = await openDatabase({ url: database.url, poolMax: 8 });
  const clock = new HandClock(start);
  const pubSub = new InMemoryPubSub();
  const ledger = new CreditLedger(orm, clock, new CreditEvents(pubSub, silentLogger));
  return {
    ledger,
    orm,
    clock,
    pubSub,
    database,
    sums: (accountId) => sumsOf(orm, accountId),
    close: async () => {
      await pubSub.close();
      await orm.close();
      await database.drop();
    },
  };
}

async function sumsOf(orm: Orm, accountId: string): Promise<LedgerSums> {
  const [row] = await orm.em.getConnection().execute<Array<Record<string, string>>>(
    `select coalesce((select balance from credit_balance where account_id = :id), 0) as balance,
            coalesce((select held from credit_balance where account_id = :id), 0) as held,
            coalesce((select overage_held from credit_balance where account_id = :id), 0) as overage_held,
            (select coalesce(sum(credits), 0) from credit_ledger_entry where account_id = :id) as entries,
            (select coalesce(sum(uncovered), 0) from credit_ledger_entry where account_id = :id) as uncovered,
            (select coalesce(sum(billed), 0) from credit_ledger_entry where account_id = :id) as billed,
            (select coalesce(sum(remaining), 0) from credit_lot where account_id = :id) as lots,
            (select coalesce(sum(credits - overage_credits), 0) from credit_hold
              where account_id = :id and state = 'held') as live_holds,
            (select coalesce(sum(overage_credits), 0) from credit_hold
              where account_id = :id and state = 'held') as live_overage,
            (select coalesce(sum(used), 0) from usage_counter
              where account_id = :id and metric = 'ai_credits') as overage_counted,
            (select coalesce(sum(overage_credits), 0) from credit_spend where account_id = :id) as overage_spent`.replaceAll(
      ':id',
      '?',
    ),
    Array.from({ length: 11 }, () => accountId),
  );
  return {
    balance: Number(row?.balance),
    held: Number(row?.held),
    entries: Number(row?.entries),
    lots: Number(row?.lots),
    liveHolds: Number(row?.live_holds),
    overageHeld: Number(row?.overage_held),
    liveOverage: Number(row?.live_overage),
    uncovered: Number(row?.uncovered),
    billed: Number(row?.billed),
    overageCounted: Number(row?.overage_counted),
    overageSpent: Number(row?.overage_spent),
  };
}

/**
 * A ledger harness for a test file and a fresh account for each test (`prefix_1`, `prefix_2`, …), whose balance
 * row, entries, lots and holds must agree after it. `use` is told both before each test.
 */
export function ledgerPerTest(prefix: string, use: (harness: LedgerHarness, account: string) => void): void {
  let harness: LedgerHarness | undefined;
  let account = '';
  let sequence = 0;
  beforeAll(async () => {
    harness = await openLedger();
  });
  afterAll(async () => {
    await harness?.close();
  });
  beforeEach(() => {
    sequence += 1;
    account = `${prefix}_${sequence}`;
    use(harness as LedgerHarness, account);
  });
  afterEach(async () => {
    const sums = await (harness as LedgerHarness).sums(account);
    expect(sums.entries).toBe(sums.balance);
    expect(sums.lots).toBe(sums.balance);
    expect(sums.liveHolds).toBe(sums.held);
  });
}

/** A plain grant of `credits` to `accountId` (no expiry), its source named after the account: a test's set-up. */
export function grantForTest(ledger: CreditLedger, accountId: string, credits: number) {
  return ledger.grant({
    accountId,
    kind: 'grant',
    credits,
    expiresAt: null,
    reason: 'grant',
    source: { type: 'test', id: `${accountId}-grant` },
    actor: 'test',
  });
}
