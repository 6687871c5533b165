import fc from 'fast-check';
import type { Knex } from 'knex';
import { BillingError } from '../../src/errors';
import { UsageCounter } from '../../src/entities';
import type { UsageServices } from '../../src/services/usage/usage-services';
import { testRedisUrl } from '../support/redis';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';

/**
 * Group commit (ADR 0019) against real PostgreSQL and Redis: concurrent single records and reservation calls
 * share transactions (counted by the rows' `xmin`, the id of the transaction that wrote them), and every caller
 * still gets its own, exact outcome.
 */

let service: TestService;
let usage: UsageServices;
let sequence = 0;
const newAccount = (label: string) => `acct_group_${label}_${++sequence}_${Date.now()}`;

beforeAll(async () => {
  service = await startTestService({ env: { REDIS_URL: testRedisUrl } });
  usage = service.app.services.usage;
});
afterAll(() => service.stop());

/** Sets the account's AI request allowance (an override; null = unlimited) and warms its cached allowances. */
async function withLimit(accountId: string, limit: number | null): Promise<void> {
  await usage.overrides.set({
    accountId,
    feature: 'ai_requests',
    enabled: true,
    limit,
    note: 'group commit test',
  });
  await usage.gate.allowances(accountId);
}

/** How many transactions wrote (or last changed) the accounts' rows of `table`. */
async function transactionsOf(
  table: 'usage_record' | 'usage_reservation',
  accountIds: string[],
): Promise<number> {
  const [row] = await service.app.orm.em
    .getConnection()
    .execute<Array<{ transactions: string }>>(
      `select count(distinct xmin::text) as transactions from ${table} where account_id in (select jsonb_array_elements_text(?::jsonb))`,
      [JSON.stringify(accountIds)],
    );
  return Number(row?.transactions);
}

async function counterOf(accountId: string) {
  return service.app.orm.em.fork().findOne(UsageCounter, { accountId, metric: 'ai_requests' });
}

function record(accountId: string, quantity: number, idempotencyKey: string) {
  return usage.meter.record({ accountId, metric: 'ai_requests', quantity, idempotencyKey });
}

/** Backends of this database waiting for a lock. */
async function lockWaits(knex: Knex): Promise<number> {
  const result = await knex.raw(
    "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
  );
  return Number(result.rows[0]?.waiting ?? 0);
}

function codeOf(error: unknown): unknown {
  return error instanceof BillingError ? error.extensions.code : error;
}

describe('single records in groups', () => {
  it('turns 60 concurrent records into a few transactions, each record counted and answered', async () => {
    const accounts = [newAccount('many'), newAccount('many'), newAccount('many')];
    for (const accountId of accounts) await withLimit(accountId, null);
    const before = usage.meter.groupStats();
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => record(accounts[i % 3] as string, 1, `many-${i}`)),
    );
    expect(outcomes.every((outcome) => !outcome.duplicate)).toBe(true);
    for (const accountId of accounts) expect(await counterOf(accountId)).toMatchObject({ used: 20 });
    // The first goes alone (nothing to wait for), the rest queue behind it.
    expect(await transactionsOf('usage_record', accounts)).toBeLessThanOrEqual(3);
    const after = usage.meter.groupStats();
    expect(after.requests - before.requests).toBe(60);
    expect(after.groups - before.groups).toBeLessThanOrEqual(3);
  });

  it('groups records sent concurrently over GraphQL too, and answers each its own figures', async () => {
    const accountId = newAccount('http');
    await withLimit(accountId, null);
    // The first record makes the account's counter; the rest of the test holds that row, so the next record's
    // group waits on it and the records sent meanwhile queue behind it, as they do whenever PostgreSQL is slower
    // than requests arrive. Without the hold, a quiet machine may answer each request before the next arrives.
    await record(accountId, 1, 'h-first');
    const knex = service.app.orm.em.getConnection().getKnex();
    const hold = await knex.transaction();
    await hold.raw('select 1 from usage_counter where account_id = ? for update', [accountId]);
    const token = await service.token('ai-gateway', { roles: ['service'] });
    const sent = Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        service.graphql<{ recordUsage: { duplicate: boolean; usage: { used: number } } }>(
          `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { duplicate usage { used } } }`,
          {
            token,
            variables: { input: { accountId, metric: 'ai_requests', quantity: 1, idempotencyKey: `h-${i}` } },
          },
        ),
      ),
    );
    await waitUntil(async () => (await lockWaits(knex)) > 0, 'a group waits on the held counter', 10_000);
    // The other requests arrive while it waits (the event loop is free); then the hold ends.
    await new Promise((done) => setTimeout(done, 300));
    await hold.commit();
    const answers = await sent;
    expect(answers.map((answer) => answer.errors)).toEqual(answers.map(() => undefined));
    // Each answer shows the counter right after its own record: every figure from 2 to 31 exactly once.
    const used = answers
      .map((answer) => answer.data?.recordUsage.usage.used)
      .sort((a, b) => Number(a) - Number(b));
    expect(used).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    expect(await transactionsOf('usage_record', [accountId])).toBeLessThan(30);
  });

  it('answers each caller its own outcome: a refusal or a reused key fails no other record of the group', async () => {
    const full = newAccount('full');
    const other = newAccount('other');
    await withLimit(full, 10);
    await withLimit(other, null);
    await record(full, 8, 'full-0');
    await record(other, 3, 'other-0');
    const settled = await Promise.allSettled([
      record(full, 5, 'over'), // 8 + 5 > 10: refused
      record(full, 2, 'fits'), // 8 + 2 = 10
      record(full, 8, 'full-0'), // a retry: duplicate
      record(other, 4, 'other-0'), // the key was used for 3: CONFLICT
      record(other, 1, 'other-1'),
    ]);
    expect(
      settled.map((result) => (result.status === 'fulfilled' ? result.value : codeOf(result.reason))),
    ).toEqual([
      'USAGE_LIMIT_EXCEEDED',
      { duplicate: false, usage: expect.objectContaining({ used: 10, remaining: 0 }) },
      { duplicate: true, usage: expect.objectContaining({ used: 10 }) },
      'CONFLICT',
      { duplicate: false, usage: expect.objectContaining({ used: 4 }) },
    ]);
    expect(await counterOf(full)).toMatchObject({ used: 10 });
    expect(await counterOf(other)).toMatchObject({ used: 4 });
    // The refused key used nothing up: it is recorded once it fits (here: never, the allowance is spent).
    await expect(record(full, 5, 'over')).rejects.toMatchObject({
      extensions: { code: 'USAGE_LIMIT_EXCEEDED' },
    });
  });

  it('counts a key once within a group and across groups', async () => {
    const accountId = newAccount('dup');
    await withLimit(accountId, null);
    await record(accountId, 1, 'warm');
    const burst = () => Promise.all(Array.from({ length: 6 }, () => record(accountId, 7, 'same-key')));
    const first = await burst();
    expect(first.filter((outcome) => !outcome.duplicate)).toHaveLength(1);
    const again = await burst();
    expect(again.every((outcome) => outcome.duplicate)).toBe(true);
    expect(await counterOf(accountId)).toMatchObject({ used: 8 });
    const [row] = await service.app.orm.em
      .getConnection()
      .execute<Array<{ count: string }>>(
        "select count(*) from usage_record where account_id = ? and idempotency_key = 'same-key'",
        [accountId],
      );
    expect(Number(row?.count)).toBe(1);
  });

  it('holds a hard limit exactly under random concurrent bursts, duplicates counted once (fast-check)', async () => {
    const use = fc.record({
      account: fc.nat({ max: 2 }),
      key: fc.nat({ max: 11 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 3, maxLength: 3 }),
        fc.array(use, { minLength: 1, maxLength: 40 }),
        async (limits, uses) => {
          const accounts = limits.map(() => newAccount('model'));
          for (const [index, accountId] of accounts.entries())
            await withLimit(accountId, limits[index] as number);
          // A key always carries the same quantity (a retry is the same use): 1 + key % 4.
          const quantityOf = (key: number) => 1 + (key % 4);
          const settled = await Promise.allSettled(
            uses.map(({ account, key }) => record(accounts[account] as string, quantityOf(key), `k${key}`)),
          );
          for (const [index, accountId] of accounts.entries()) {
            const limit = limits[index] as number;
            const mine = uses
              .map((u, i) => ({ ...u, result: settled[i] }))
              .filter((u) => u.account === index);
            const counted = mine.filter((u) => u.result?.status === 'fulfilled' && !u.result.value.duplicate);
            const countedKeys = counted.map((u) => u.key);
            const used = counted.reduce((sum, u) => sum + quantityOf(u.key), 0);
            // Each key counted at most once; the counter is exactly what was counted, never past the limit.
            expect(new Set(countedKeys).size).toBe(countedKeys.length);
            expect((await counterOf(accountId))?.used ?? 0).toBe(used);
            expect(used).toBeLessThanOrEqual(limit);
            for (const u of mine) {
              if (u.result?.status === 'rejected') {
                expect(codeOf(u.result.reason)).toBe('USAGE_LIMIT_EXCEEDED');
                // Refused only what did not fit: it would not fit even in what is left at the end, and its key
                // was never counted.
                expect(quantityOf(u.key)).toBeGreaterThan(limit - used);
                expect(countedKeys).not.toContain(u.key);
              } else if (u.result?.value.duplicate) expect(countedKeys).toContain(u.key);
            }
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('reservations in groups', () => {
  it('holds, commits and releases in shared transactions, the limit exact, each caller its own answer', async () => {
    const accountId = newAccount('reserve');
    await withLimit(accountId, 10);
    const quantities = Array.from({ length: 30 }, (_, i) => 1 + (i % 3));
    const reserved = await Promise.allSettled(
      quantities.map((quantity) =>
        usage.reservations.reserve({ accountId, metric: 'ai_requests', quantity }),
      ),
    );
    const held = reserved.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const heldSum = held.reduce((sum, reservation) => sum + reservation.quantity, 0);
    expect(heldSum).toBeLessThanOrEqual(10);
    reserved.forEach((result, index) => {
      if (result.status === 'rejected') {
        expect(codeOf(result.reason)).toBe('USAGE_LIMIT_EXCEEDED');
        expect(quantities[index]).toBeGreaterThan(10 - heldSum);
      }
    });
    expect(await counterOf(accountId)).toMatchObject({ used: 0, reserved: heldSum });
    expect(await transactionsOf('usage_reservation', [accountId])).toBeLessThan(held.length);

    // Commit all but one at once (each used one unit), twice: the second time every commit is a duplicate.
    const [released, ...committing] = held;
    const commitAll = () =>
      Promise.all(committing.map((reservation) => usage.reservations.commit(accountId, reservation.id, 1)));
    const committed = await commitAll();
    expect(committed.every((outcome) => !outcome.duplicate)).toBe(true);
    expect((await commitAll()).every((outcome) => outcome.duplicate)).toBe(true);
    const [releasedOnce, releasedTwice] = await Promise.all([
      usage.reservations.release(accountId, released?.id as string),
      usage.reservations.release(accountId, released?.id as string),
    ]);
    expect([releasedOnce, releasedTwice]).toEqual([true, false]);
    expect(await counterOf(accountId)).toMatchObject({ used: committing.length, reserved: 0 });
    // The commits' usage records were written by fewer transactions than there were commits.
    expect(await transactionsOf('usage_record', [accountId])).toBeLessThan(committing.length);
  });

  it('never holds past the limit under random concurrent reservations over several accounts (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 2, maxLength: 2 }),
        fc.array(fc.record({ account: fc.nat({ max: 1 }), quantity: fc.integer({ min: 1, max: 4 }) }), {
          minLength: 1,
          maxLength: 30,
        }),
        async (limits, requests) => {
          const accounts = limits.map(() => newAccount('rmodel'));
          for (const [index, accountId] of accounts.entries())
            await withLimit(accountId, limits[index] as number);
          const settled = await Promise.allSettled(
            requests.map(({ account, quantity }) =>
              usage.reservations.reserve({
                accountId: accounts[account] as string,
                metric: 'ai_requests',
                quantity,
              }),
            ),
          );
          for (const [index, accountId] of accounts.entries()) {
            const mine = requests
              .map((r, i) => ({ ...r, result: settled[i] }))
              .filter((r) => r.account === index);
            const heldSum = mine.reduce(
              (sum, r) => sum + (r.result?.status === 'fulfilled' ? r.quantity : 0),
              0,
            );
            expect(heldSum).toBeLessThanOrEqual(limits[index] as number);
            for (const r of mine)
              if (r.result?.status === 'rejected')
                expect(r.quantity).toBeGreaterThan((limits[index] as number) - heldSum);
            expect((await counterOf(accountId))?.reserved ?? 0).toBe(heldSum);
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('batches in groups (ADR 0034)', () => {
  const batchOf = (accountId: string, keys: string[], quantity = 1) =>
    keys.map((idempotencyKey) => ({ accountId, metric: 'ai_requests', quantity, idempotencyKey }));
  const keysOf = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

  it('turns 12 concurrent batches into a few transactions, each batch answered its own figures', async () => {
    const accounts = [newAccount('batches'), newAccount('batches'), newAccount('batches')];
    for (const accountId of accounts) await withLimit(accountId, null);
    const before = usage.meter.batchGroupStats();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        usage.meter.recordBatch(batchOf(accounts[i % 3] as string, keysOf(`b${i}`, 10))),
      ),
    );
    // Each account's four batches, in arrival order: the counter's figures after each batch's records.
    const usedAfter = answers.map((outcomes) => outcomes.map((outcome) => outcome.usage.used));
    for (let account = 0; account < 3; account++) {
      const seen = [account, account + 3, account + 6, account + 9].flatMap((i) => usedAfter[i] as number[]);
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(await counterOf(accounts[account] as string)).toMatchObject({ used: 40 });
    }
    expect(answers.flat().every((outcome) => !outcome.duplicate)).toBe(true);
    // Two lanes: each one's first batch alone, the rest queued behind it and written together: 4 groups when all
    // 12 arrive before the first group is written. On a loaded machine a batch has arrived after it (5 groups, CI on
    // Node 24, 2026-12-07), so the bound is half the batches: one transaction per batch would be 12.
    const after = usage.meter.batchGroupStats();
    expect(after.requests - before.requests).toBe(12);
    expect(after.groups - before.groups).toBeLessThanOrEqual(6);
    expect(await transactionsOf('usage_record', accounts)).toBeLessThanOrEqual(6);
  });

  it('fails a batch over its hard limit alone, records the batches grouped with it, and counts a key sent in two once', async () => {
    const [open, limited] = [newAccount('open'), newAccount('limited')];
    await withLimit(open, null);
    await withLimit(limited, 5);
    const before = usage.meter.batchGroupStats();
    const sent = [
      batchOf(open, keysOf('o1', 3)),
      batchOf(open, keysOf('o2', 3)),
      batchOf(open, keysOf('o3', 3)),
      batchOf(limited, keysOf('l1', 6)),
      batchOf(open, keysOf('o4', 3)),
      // A client's retry of o4 while o4 is still in flight: a duplicate, counted once.
      batchOf(open, keysOf('o4', 3)),
    ];
    const answers = await Promise.all(
      sent.map((batch) => usage.meter.recordBatch(batch).catch((error: unknown) => codeOf(error))),
    );
    expect(answers[3]).toBe('USAGE_LIMIT_EXCEEDED');
    expect(await counterOf(limited)).toMatchObject({ used: 0 });
    expect(await counterOf(open)).toMatchObject({ used: 12 });
    const recorded = answers.filter((answer): answer is Array<{ duplicate: boolean }> =>
      Array.isArray(answer),
    );
    expect(recorded.flat().filter((outcome) => outcome.duplicate)).toHaveLength(3);
    const after = usage.meter.batchGroupStats();
    expect(after.groups - before.groups).toBeLessThan(sent.length);
  });
});
