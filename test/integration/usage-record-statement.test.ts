import fc from 'fast-check';
import { UsageCounter } from '../../src/entities';
import { BillingError } from '../../src/errors';
import { recordWithRetries } from '../../src/services/usage/usage-record-retries';
import * as usageRecordStatement from '../../src/services/usage/usage-record-statement';
import { recordInOneStatement } from '../../src/services/usage/usage-record-statement';
import {
  type PlannedEvent,
  type RecordingResult,
  recordInTransaction,
} from '../../src/services/usage/usage-recording';
import type { UsageServices } from '../../src/services/usage/usage-services';
import type { UsageEvent } from '../../src/services/usage/usage-validation';
import type { UsageWriting } from '../../src/services/usage/usage-writing';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';

/**
 * `usage_record_group`, the one-statement recording of ADR 0019, against real PostgreSQL: it decides exactly as
 * the transactional path (`decide()`), keys count once within a call and across calls, a call killed in
 * PostgreSQL leaves nothing behind and its retry counts each use once, and concurrent statements (as from many
 * instances) never pass a hard limit.
 */

let service: TestService;
let usage: UsageServices;
let writing: UsageWriting;
let plan: (events: readonly UsageEvent[], now: Date) => Promise<PlannedEvent[]>;
let sequence = 0;
const newAccount = (label: string) => `acct_statement_${label}_${++sequence}_${Date.now()}`;

beforeAll(async () => {
  service = await startTestService();
  usage = service.app.services.usage;
  // The meter's own planning (allowances, periods): the same planned records the service would record.
  const meter = usage.meter as unknown as {
    writing: UsageWriting;
    validateAndPlan(events: readonly UsageEvent[], now: Date): Promise<PlannedEvent[]>;
  };
  writing = meter.writing;
  plan = (events, now) => meter.validateAndPlan(events, now);
});
afterAll(() => service.stop());

async function withLimit(accountId: string, limit: number | null): Promise<void> {
  await usage.overrides.set({
    accountId,
    feature: 'ai_requests',
    enabled: true,
    limit,
    note: 'statement test',
  });
  await usage.gate.allowances(accountId);
}

const use = (accountId: string, quantity: number, key: string): UsageEvent => ({
  accountId,
  metric: 'ai_requests',
  quantity,
  idempotencyKey: key,
});

async function counterOf(accountId: string, metric = 'ai_requests') {
  return service.app.orm.em.fork().findOne(UsageCounter, { accountId, metric });
}

/**
 * The killed backend's connection goes back to the pool when its query fails, a moment before its socket's close
 * marks it disposed; a query taking it in that moment fails "Connection terminated unexpectedly" (CI saw it once).
 * Queries until one passes, by which time the close has been seen and the pool drops the connection on acquire.
 */
async function untilPoolDropsKilledConnection(): Promise<void> {
  const connection = service.app.orm.em.getConnection();
  await waitUntil(
    () =>
      connection.execute('select 1').then(
        () => true,
        () => false,
      ),
    'a pooled connection that answers',
    5_000,
  );
}

/** Each answer without what names the account: an outcome's figures, or a refusal's code and figures. */
function answersOf(result: RecordingResult) {
  return result.settled.map((settled) => {
    if (settled.ok) {
      const { duplicate, usage: figures } = settled.value;
      return { duplicate, used: figures.used, remaining: figures.remaining, overage: figures.overage };
    }
    const error = settled.error as BillingError;
    return { code: error.extensions.code, extensions: error.extensions, message: error.message };
  });
}

describe('usage_record_group', () => {
  it('decides every group as the transactional path does, thresholds and all (fast-check)', async () => {
    // Uses of a counter (ai_requests, under the drawn limit) and levels of a gauge (seats, the free plan's hard
    // limit), the levels measured up to a minute ago in any order; keys shared across both, so a key is reused.
    const record = fc.oneof(
      fc.record({
        key: fc.nat({ max: 7 }),
        quantity: fc.integer({ min: 1, max: 6 }),
        ago: fc.constant(null),
      }),
      fc.record({
        key: fc.nat({ max: 7 }),
        quantity: fc.integer({ min: 0, max: 3 }),
        ago: fc.nat({ max: 60 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.array(record, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        async (limit, groups) => {
          const [shipped, reference] = [newAccount('shipped'), newAccount('reference')];
          await withLimit(shipped, limit);
          await withLimit(reference, limit);
          for (const group of groups) {
            const now = writing.clock.now();
            const events = (accountId: string) =>
              group.map(
                (r): UsageEvent =>
                  r.ago === null
                    ? use(accountId, r.quantity, `k${r.key}`)
                    : {
                        accountId,
                        metric: 'seats',
                        quantity: r.quantity,
                        idempotencyKey: `k${r.key}`,
                        occurredAt: new Date(now.getTime() - r.ago * 1000),
                      },
              );
            const byStatement = await recordWithRetries(
              writing,
              await plan(events(shipped), now),
              'each-own',
              now,
            );
            const byTransaction = await recordInTransaction(
              writing,
              await plan(events(reference), now),
              'each-own',
              now,
            );
            expect(answersOf(byStatement)).toEqual(answersOf(byTransaction));
          }
          for (const metric of ['ai_requests', 'seats']) {
            const [left, right] = [await counterOf(shipped, metric), await counterOf(reference, metric)];
            expect(left === null).toBe(right === null);
            if (right === null) continue;
            expect(left).toMatchObject({
              used: right?.used,
              peak: right?.peak,
              levelAt: right?.levelAt,
              thresholdNotified: right?.thresholdNotified,
            });
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('counts a key once within a call and across calls, and refuses it reused for another use', async () => {
    const accountId = newAccount('keys');
    await withLimit(accountId, null);
    const now = writing.clock.now();
    const first = await recordInOneStatement(
      writing,
      await plan([use(accountId, 2, 'a'), use(accountId, 2, 'a'), use(accountId, 3, 'b')], now),
      'each-own',
      now,
    );
    expect(answersOf(first).map((answer) => ('code' in answer ? answer.code : answer))).toEqual([
      { duplicate: false, used: 2, remaining: null, overage: 0 },
      { duplicate: true, used: 2, remaining: null, overage: 0 },
      { duplicate: false, used: 5, remaining: null, overage: 0 },
    ]);
    const second = await recordInOneStatement(
      writing,
      await plan([use(accountId, 3, 'b'), use(accountId, 9, 'a'), use(accountId, 1, 'c')], now),
      'each-own',
      now,
    );
    expect(answersOf(second).map((answer) => ('code' in answer ? answer.code : answer))).toEqual([
      { duplicate: true, used: 5, remaining: null, overage: 0 },
      'CONFLICT',
      { duplicate: false, used: 6, remaining: null, overage: 0 },
    ]);
    expect(await counterOf(accountId)).toMatchObject({ used: 6 });
    const [keys] = await service.app.orm.em.getConnection().execute<Array<{ records: string; keys: string }>>(
      `select (select count(*) from usage_record where account_id = ?) as records,
                (select count(*) from usage_record_key where account_id = ?) as keys`,
      [accountId, accountId],
    );
    expect(keys).toEqual({ records: '3', keys: '3' });
  });

  it('keeps every printable key as sent, whatever it means in an array literal, and its time of use', async () => {
    // The records go to PostgreSQL as array literals: quotes, backslashes, braces, commas and NULL must stay keys.
    const accountId = newAccount('literal');
    await withLimit(accountId, null);
    const keys = ['a"b', 'c\\d', '{e,f}', 'NULL', 'g\\"h'];
    const now = writing.clock.now();
    const earlier = new Date(now.getTime() - 30_000);
    const events = keys.map((key, index) => ({
      ...use(accountId, index + 1, key),
      occurredAt: index ? now : earlier,
    }));
    const first = await recordInOneStatement(writing, await plan(events, now), 'all-or-none', now);
    expect(answersOf(first).map((answer) => ('duplicate' in answer ? answer.duplicate : answer))).toEqual(
      keys.map(() => false),
    );
    const again = await recordInOneStatement(writing, await plan(events, now), 'all-or-none', now);
    expect(answersOf(again).map((answer) => ('duplicate' in answer ? answer.duplicate : answer))).toEqual(
      keys.map(() => true),
    );
    const rows = await service.app.orm.em
      .getConnection()
      .execute<Array<{ idempotency_key: string; quantity: string; occurred_at: Date }>>(
        'select idempotency_key, quantity, occurred_at from usage_record where account_id = ? order by quantity',
        [accountId],
      );
    expect(
      rows.map((row) => [row.idempotency_key, Number(row.quantity), new Date(row.occurred_at).getTime()]),
    ).toEqual(keys.map((key, index) => [key, index + 1, (index ? now : earlier).getTime()]));
  });

  it('writes nothing of a batch with a refused record, and says which', async () => {
    const accountId = newAccount('batch');
    await withLimit(accountId, 5);
    const now = writing.clock.now();
    const planned = await plan([use(accountId, 3, 'x'), use(accountId, 3, 'y'), use(accountId, 1, 'z')], now);
    const refusal = await recordInOneStatement(writing, planned, 'all-or-none', now).catch((error) => error);
    expect(refusal).toBeInstanceOf(BillingError);
    expect(refusal.extensions).toMatchObject({
      code: 'USAGE_LIMIT_EXCEEDED',
      used: 3,
      requested: 3,
      limit: 5,
    });
    // The counter exists (it was locked) but nothing was recorded in it.
    expect(await counterOf(accountId)).toMatchObject({ used: 0 });
  });

  it('runs a batch again when another transaction records one of its keys after the lookup: a duplicate then', async () => {
    const accountId = newAccount('raced');
    await withLimit(accountId, null);
    const now = writing.clock.now();
    const planned = await plan([use(accountId, 1, 'raced'), use(accountId, 1, 'own')], now);
    // Another instance's transaction has claimed the key but not committed: the lookup cannot see it, the insert
    // waits for it, and fails once it commits.
    const other = await service.app.orm.em.getConnection().getKnex().transaction();
    await other.raw(
      `insert into usage_record_key (account_id, idempotency_key, metric, quantity, created_at)
       values (?, 'raced', 'ai_requests', 1, now())`,
      [accountId],
    );
    const call = recordWithRetries(writing, planned, 'all-or-none', now);
    await waitUntil(async () => (await blockedCalls()) > 0, 'the insert waits on the other key', 10_000);
    await other.commit();
    expect(answersOf(await call)).toEqual([
      // The other transaction counted its use in its own counter (not made here): this one counts only its own.
      { duplicate: true, used: 0, remaining: null, overage: 0 },
      { duplicate: false, used: 1, remaining: null, overage: 0 },
    ]);
    expect(await counterOf(accountId)).toMatchObject({ used: 1 });
  });

  it('leaves nothing of a call killed in PostgreSQL mid-group, and its retry counts each use once', async () => {
    const accountId = newAccount('killed');
    await withLimit(accountId, null);
    await usage.meter.record(use(accountId, 1, 'before'));
    const events = Array.from({ length: 10 }, (_, i) => use(accountId, 1, `killed-${i}`));
    const now = writing.clock.now();
    const planned = await plan(events, now);
    // Another transaction holds the counter: the call waits inside the function, then is killed there.
    const holder = await service.app.orm.em.getConnection().getKnex().transaction();
    await holder.raw('select 1 from usage_counter where account_id = ? for update', [accountId]);
    const call = recordInOneStatement(writing, planned, 'each-own', now).catch((error) => error);
    await waitUntil(async () => (await blockedCalls()) > 0, 'the call waits on the counter lock', 10_000);
    await service.app.orm.em.getConnection().execute(
      `select pg_terminate_backend(pid) from pg_stat_activity
          where query like 'select * from usage_record_group%' and wait_event_type = 'Lock'
            and datname = current_database()`,
    );
    await holder.commit();
    expect(await call).toBeInstanceOf(Error);
    await untilPoolDropsKilledConnection();
    expect(await counterOf(accountId)).toMatchObject({ used: 1 });
    // The callers retry with the same keys (and one retries twice): each use is counted once.
    const retried = await recordWithRetries(
      writing,
      await plan([...events, events[3] as UsageEvent], now),
      'each-own',
    );
    expect(retried.settled.filter((settled) => settled.ok && settled.value.duplicate)).toHaveLength(1);
    expect(await counterOf(accountId)).toMatchObject({ used: 11 });
  });

  it('never passes a hard limit under concurrent statements, as from many instances (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 15 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 16 }),
        async (limit, quantities) => {
          const accountId = newAccount('race');
          await withLimit(accountId, limit);
          const now = writing.clock.now();
          const planned = await plan(
            quantities.map((quantity, i) => use(accountId, quantity, `race-${i}`)),
            now,
          );
          // Each its own statement on its own connection: they meet only on the counter's lock.
          const results = await Promise.all(
            planned.map((item) => recordWithRetries(writing, [item], 'each-own', now)),
          );
          const settled = results.map((result) => result.settled[0]);
          const accepted = quantities.filter((_, i) => settled[i]?.ok);
          const used = accepted.reduce((sum, quantity) => sum + quantity, 0);
          expect(used).toBeLessThanOrEqual(limit);
          expect(await counterOf(accountId)).toMatchObject({ used });
          settled.forEach((outcome, i) => {
            if (outcome?.ok) return;
            expect((outcome?.error as BillingError).extensions.code).toBe('USAGE_LIMIT_EXCEEDED');
            // Refused only if it did not fit when its turn came, so not at the end either.
            expect(used + (quantities[i] as number)).toBeGreaterThan(limit);
          });
        },
      ),
      { numRuns: 20 },
    );
  });

  it('skips the key lookup of keys said to be new: one recorded before fails the call, nothing written, and the retry answers it a duplicate', async () => {
    const accountId = newAccount('unseen');
    await withLimit(accountId, null);
    const now = writing.clock.now();
    const first = await plan([use(accountId, 2, 'u1'), use(accountId, 3, 'u2')], now);
    expect(answersOf(await recordInOneStatement(writing, first, 'all-or-none', now, 'unseen'))).toEqual([
      { duplicate: false, used: 2, remaining: null, overage: 0 },
      { duplicate: false, used: 5, remaining: null, overage: 0 },
    ]);
    // A client's retry of u2 beside a new use: unseen, the call is not decided against the key but fails on it.
    const retried = await plan([use(accountId, 3, 'u2'), use(accountId, 4, 'u3')], now);
    const failure = await recordInOneStatement(writing, retried, 'all-or-none', now, 'unseen').catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: '23505', constraint: 'usage_record_key_pkey' });
    expect(await counterOf(accountId)).toMatchObject({ used: 5 });
    expect(answersOf(await recordWithRetries(writing, retried, 'all-or-none', now))).toEqual([
      { duplicate: true, used: 5, remaining: null, overage: 0 },
      { duplicate: false, used: 9, remaining: null, overage: 0 },
    ]);
    const [rows] = await service.app.orm.em.getConnection().execute<Array<{ records: string; keys: string }>>(
      `select (select count(*) from usage_record where account_id = ?) as records,
                (select count(*) from usage_record_key where account_id = ?) as keys`,
      [accountId, accountId],
    );
    expect(rows).toEqual({ records: '3', keys: '3' });
  });

  it('looks keys up first for a while after a call failed on a key said to be new: a burst of retries is not written twice', async () => {
    const accountId = newAccount('burst');
    await withLimit(accountId, null);
    const own = { ...writing };
    const now = writing.clock.now();
    await recordWithRetries(own, await plan([use(accountId, 1, 'r1')], now), 'all-or-none', now);
    const calls = jest.spyOn(usageRecordStatement, 'recordInOneStatement');
    try {
      await recordWithRetries(own, await plan([use(accountId, 1, 'r1')], now), 'all-or-none', now);
      await recordWithRetries(own, await plan([use(accountId, 1, 'r2')], now), 'all-or-none', now);
      // The retry fails unseen and runs again with the lookup; the next call, within the second, looks up first.
      expect(calls.mock.calls.map((call) => call[4])).toEqual(['unseen', 'look-up', 'look-up']);
    } finally {
      calls.mockRestore();
    }
    expect(await counterOf(accountId)).toMatchObject({ used: 2 });
  });

  it('answers calls without a limit, keys new or repeated within and across calls, as the transactional path does (fast-check)', async () => {
    // No limit: nothing can be refused, so a call whose keys are all new takes the path without lookup or loop.
    const record = fc.record({ key: fc.nat({ max: 11 }), quantity: fc.integer({ min: 1, max: 6 }) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(record, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (groups, batches) => {
          const mode = batches ? 'all-or-none' : 'each-own';
          const [shipped, reference] = [newAccount('fast'), newAccount('fast_reference')];
          await withLimit(shipped, null);
          await withLimit(reference, null);
          for (const group of groups) {
            const now = writing.clock.now();
            const events = (accountId: string) => group.map((r) => use(accountId, r.quantity, `f${r.key}`));
            // A batch that reuses a key for another use is refused as a whole, by both.
            const outcome = (recording: Promise<RecordingResult>) =>
              recording.then(answersOf, (error: BillingError) => error.extensions.code);
            // Its own memory of keys seen (a copy of `writing`): every call starts saying its keys are new.
            expect(
              await outcome(recordWithRetries({ ...writing }, await plan(events(shipped), now), mode, now)),
            ).toEqual(
              await outcome(recordInTransaction(writing, await plan(events(reference), now), mode, now)),
            );
          }
          const [left, right] = [await counterOf(shipped), await counterOf(reference)];
          expect(left).toMatchObject({ used: right?.used, peak: right?.peak });
        },
      ),
      { numRuns: 25 },
    );
  });
});

async function blockedCalls(): Promise<number> {
  const [row] = await service.app.orm.em.getConnection().execute<Array<{ blocked: string }>>(
    `select count(*) as blocked from pg_stat_activity
        where query like 'select * from usage_record_group%' and wait_event_type = 'Lock'
          and datname = current_database()`,
  );
  return Number(row?.blocked);
}
