import fc from 'fast-check';
import { Registry } from 'prom-client';
import type Stripe from 'stripe';
import { UsageCounter, UsageRecord, UsageRecordKey } from '../../src/entities';
import type { Logger } from '../../src/logging/logger';
import { openDatabase, type Orm } from '../../src/database/database';
import { Notifier } from '../../src/services/notifications/notifier';
import { NotificationRetention } from '../../src/services/notifications/notification-retention';
import type { Clock } from '../../src/services/time/clock';
import { UsageMeter } from '../../src/services/usage/usage-meter';
import { UsageRecordRetention } from '../../src/services/usage/usage-record-retention';
import { InboxRetention } from '../../src/webhooks/inbox/inbox-retention';
import { WebhookInbox } from '../../src/webhooks/inbox/webhook-inbox';
import { DataMaintenance } from '../../src/webhooks/reconciler/data-maintenance';
import { ReconcileLock } from '../../src/webhooks/reconciler/reconcile-lock';
import { maintenanceMetrics } from '../../src/observability/maintenance-metrics';
import { databaseUrl, withAdminClient } from '../support/postgres-server';
import { startTestService, type TestService } from '../support/service';

/**
 * Data that does not grow without bound (issue 14, ADR 0021), on real PostgreSQL: usage_record's daily
 * partitions made ahead and dropped past the retention, the default partition emptied, the idempotency guarantee
 * across a partition boundary and under concurrency, webhook payloads pruned while their rows still stop a
 * redelivery, sent mails deleted, and the maintenance job's lock and metrics.
 */

const DAY = 24 * 3600 * 1000;
const SETTINGS = { keepDays: 40, aheadDays: 7, idempotencyWindowHours: 24 };

let app: TestService;

beforeAll(async () => {
  app = await startTestService({ env: { DATA_MAINTENANCE_INTERVAL_MS: '0' } });
});

afterAll(async () => {
  await app.stop();
});

function startOfUtcDay(at: number): number {
  const date = new Date(at);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}

function nameOf(day: number): string {
  return `usage_record_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function retention(settings = SETTINGS): UsageRecordRetention {
  return new UsageRecordRetention(app.app.orm, settings, quiet);
}

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
} as unknown as Logger;

async function sql<T = Record<string, unknown>>(statement: string, parameters: unknown[] = []): Promise<T[]> {
  return app.app.orm.em.fork().execute<T[]>(statement, parameters);
}

async function partitionNames(): Promise<string[]> {
  return (await retention().partitions()).map(({ name }) => name);
}

async function insertRecord(createdAt: Date, key: string): Promise<void> {
  await sql(
    `insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start)
     values (gen_random_uuid(), ?, ?, 'acct_retention_rows', 'ai_requests', 1, ?, ?, ?)`,
    [createdAt, createdAt, key, createdAt, createdAt],
  );
}

/** A meter whose clock the test sets: the record's `created_at`, so the partition it goes to. */
function meterAt(at: Date): UsageMeter {
  const { usage } = app.app.services;
  const clock: Clock = { now: () => new Date(at) };
  return new UsageMeter({
    orm: app.app.orm,
    gate: usage.gate,
    copies: usage.copies,
    publisher: usage.publisher,
    notifier: new Notifier(quiet),
    logger: quiet,
    clock,
    metrics: null,
  });
}

/** Records as a caller that retries a CONFLICT (two of its own retries raced): what a client does. */
async function recordRetrying(meter: UsageMeter, accountId: string, key: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await meter.record({ accountId, metric: 'ai_requests', quantity: 1, idempotencyKey: key }))
        .duplicate;
    } catch (error) {
      const code = (error as { extensions?: { code?: string } }).extensions?.code;
      if (code !== 'CONFLICT' || attempt >= 5) throw error;
    }
  }
}

describe('usage_record partitions', () => {
  it('a run makes today and the days ahead; a second run changes nothing', async () => {
    const now = Date.now() + 30 * DAY;
    const first = await retention().run(new Date(now));
    const today = startOfUtcDay(now);
    const wanted = Array.from({ length: SETTINGS.aheadDays + 1 }, (_, day) => nameOf(today + day * DAY));
    expect(first.created).toEqual(wanted);
    expect(await partitionNames()).toEqual(expect.arrayContaining(wanted));
    const before = await partitionNames();
    const second = await retention().run(new Date(now));
    expect(second).toEqual({
      created: [],
      dropped: [],
      defaultRowsDeleted: 0,
      keysPruned: 0,
      reservationsPruned: 0,
    });
    expect(await partitionNames()).toEqual(before);
  });

  it('drops a partition only once its whole day is past the retention, with its rows', async () => {
    const today = startOfUtcDay(Date.now());
    const oldest = today - (SETTINGS.keepDays + 1) * DAY;
    // Partitions for the day just past the retention and the first day still in it.
    await retention({ ...SETTINGS, aheadDays: 1 }).ensurePartitions(new Date(oldest));
    await insertRecord(new Date(oldest + DAY - 1000), 'old-kept-until-dropped');
    await insertRecord(new Date(oldest + DAY + 1000), 'first-day-kept');
    const { dropped } = await retention().dropPartitions(new Date(today + 3600 * 1000));
    expect(dropped).toEqual([nameOf(oldest)]);
    const names = await partitionNames();
    expect(names).not.toContain(nameOf(oldest));
    expect(names).toContain(nameOf(oldest + DAY));
    const keys = await sql<{ idempotency_key: string }>(
      `select idempotency_key from usage_record where account_id = 'acct_retention_rows' order by 1`,
    );
    expect(keys.map((row) => row.idempotency_key)).toEqual(['first-day-kept']);
    // Run again: nothing more is past the retention.
    expect((await retention().dropPartitions(new Date(today + 3600 * 1000))).dropped).toEqual([]);
  });

  it('keeps the counters when a day’s partition is dropped: the totals outlive their records', async () => {
    const today = startOfUtcDay(Date.now());
    const day = today - (SETTINGS.keepDays + 2) * DAY;
    await retention({ ...SETTINGS, aheadDays: 0 }).ensurePartitions(new Date(day));
    const accountId = `acct_counter_kept_${Date.now()}`;
    const meter = meterAt(new Date(day + 3600 * 1000));
    for (const key of ['a', 'b', 'c']) expect(await recordRetrying(meter, accountId, key)).toBe(false);
    const used = async () =>
      (await app.app.orm.em.fork().find(UsageCounter, { accountId })).reduce((sum, row) => sum + row.used, 0);
    expect(await used()).toBe(3);
    const { dropped } = await retention().dropPartitions(new Date(today + 3600 * 1000));
    expect(dropped).toContain(nameOf(day));
    expect(await app.app.orm.em.fork().count(UsageRecord, { accountId })).toBe(0);
    expect(await used()).toBe(3);
  });

  it('a record no partition covers lands in the default partition; the next run moves it into its own', async () => {
    const far = startOfUtcDay(Date.now()) + 45 * DAY;
    await insertRecord(new Date(far + 5000), 'in-default');
    await insertRecord(new Date(startOfUtcDay(Date.now()) - 60 * DAY), 'in-default-past-retention');
    expect(await retention().defaultPartitionRows()).toBe(2);
    const run = await retention().run(new Date());
    expect(run.created).toContain(nameOf(far));
    expect(run.defaultRowsDeleted).toBe(1);
    expect(await retention().defaultPartitionRows()).toBe(0);
    const [moved] = await sql<{ partition: string }>(
      `select tableoid::regclass::text as partition from usage_record where idempotency_key = 'in-default'`,
    );
    expect(moved?.partition).toBe(nameOf(far));
  });

  it('deletes finished reservations past the retention, never a held one', async () => {
    const accountId = `acct_reservations_${Date.now()}`;
    const old = new Date(startOfUtcDay(Date.now()) - (SETTINGS.keepDays + 1) * DAY);
    const recent = new Date(Date.now() - DAY);
    for (const [key, status, createdAt] of [
      ['committed_old', 'committed', old],
      ['released_old', 'released', old],
      ['expired_old', 'expired', old],
      ['held_old', 'held', old],
      ['committed_recent', 'committed', recent],
    ] as const)
      await sql(
        `insert into usage_reservation (id, created_at, updated_at, account_id, counter_id, metric, quantity, status,
           expires_at, idempotency_key)
         values (gen_random_uuid(), ?, ?, ?, gen_random_uuid(), 'ai_requests', 1, ?, ?, ?)`,
        [createdAt, createdAt, accountId, status, createdAt, key],
      );
    expect((await retention().run(new Date())).reservationsPruned).toBe(3);
    const left = await sql<{ idempotency_key: string }>(
      'select idempotency_key from usage_reservation where account_id = ? order by 1',
      [accountId],
    );
    expect(left.map((row) => row.idempotency_key)).toEqual(['committed_recent', 'held_old']);
  });

  it('forgets idempotency keys older than the window, keeps the ones inside it', async () => {
    const now = Date.now();
    await sql(
      `insert into usage_record_key (account_id, idempotency_key, metric, quantity, created_at) values
       ('acct_keys', 'old', 'ai_requests', 1, ?), ('acct_keys', 'recent', 'ai_requests', 1, ?)`,
      [new Date(now - 25 * 3600 * 1000), new Date(now - 23 * 3600 * 1000)],
    );
    expect(await retention().pruneKeys(new Date(now))).toBe(1);
    const left = await app.app.orm.em.fork().find(UsageRecordKey, { accountId: 'acct_keys' });
    expect(left.map((key) => key.idempotencyKey)).toEqual(['recent']);
  });
});

describe('the idempotency key across partitions', () => {
  it('a record at 23:59:59 and its repeat at 00:00:01 the next day are counted once', async () => {
    const midnight = startOfUtcDay(Date.now()) + DAY;
    const accountId = `acct_boundary_${Date.now()}`;
    expect(await recordRetrying(meterAt(new Date(midnight - 1000)), accountId, 'k-boundary')).toBe(false);
    expect(await recordRetrying(meterAt(new Date(midnight + 1000)), accountId, 'k-boundary')).toBe(true);
    const records = await sql<{ partition: string }>(
      'select tableoid::regclass::text as partition from usage_record where account_id = ?',
      [accountId],
    );
    expect(records).toEqual([{ partition: nameOf(midnight - DAY) }]);
    const counters = await app.app.orm.em.fork().find(UsageCounter, { accountId });
    expect(counters.reduce((sum, counter) => sum + counter.used, 0)).toBe(1);
  });

  it('lasts as long as a repeat can be accepted: a key is forgotten only once its repeat is refused as too late', async () => {
    const HOUR = 3600 * 1000;
    const at = startOfUtcDay(Date.now()) + 12 * HOUR;
    const accountId = `acct_window_${Date.now()}`;
    const record = (clock: number, occurredAt: number) =>
      meterAt(new Date(clock)).record({
        accountId,
        metric: 'ai_requests',
        quantity: 1,
        idempotencyKey: 'k-window',
        occurredAt: new Date(occurredAt),
      });
    // Dated as far ahead as allowed (5 min), so a repeat is accepted for the longest: until 1 h 5 min later.
    expect((await record(at, at + 5 * 60 * 1000)).duplicate).toBe(false);
    // The shortest window (2 h) still holds the key at the last moment a repeat is accepted.
    await retention({ ...SETTINGS, idempotencyWindowHours: 2 }).pruneKeys(new Date(at + 65 * 60 * 1000));
    expect((await record(at + 65 * 60 * 1000, at + 5 * 60 * 1000)).duplicate).toBe(true);
    // Past the window the key is gone, and the repeat, carrying its time, is refused rather than counted again.
    expect(await retention().pruneKeys(new Date(at + 25 * HOUR))).toBeGreaterThanOrEqual(1);
    await expect(record(at + 25 * HOUR, at + 5 * 60 * 1000)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const counters = await app.app.orm.em.fork().find(UsageCounter, { accountId });
    expect(counters.reduce((sum, counter) => sum + counter.used, 0)).toBe(1);
  });

  it('holds under concurrency, for any keys and times around midnight (fast-check)', async () => {
    const midnight = startOfUtcDay(Date.now()) + DAY;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ key: fc.integer({ min: 0, max: 3 }), offset: fc.integer({ min: -3, max: 3 }) }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        async (attempts) => {
          run += 1;
          const accountId = `acct_concurrent_${Date.now()}_${run}`;
          const duplicates = await Promise.all(
            attempts.map(({ key, offset }) =>
              recordRetrying(meterAt(new Date(midnight + offset * 1000)), accountId, `k${key}`),
            ),
          );
          const distinct = new Set(attempts.map(({ key }) => key)).size;
          expect(duplicates.filter((duplicate) => !duplicate)).toHaveLength(distinct);
          expect(await app.app.orm.em.fork().count(UsageRecord, { accountId })).toBe(distinct);
          const counters = await app.app.orm.em.fork().find(UsageCounter, { accountId });
          expect(counters.reduce((sum, counter) => sum + counter.used, 0)).toBe(distinct);
        },
      ),
      { numRuns: 25 },
    );
  });
});

function stripeEvent(id: string): Stripe.Event {
  return {
    id,
    object: 'event',
    type: 'customer.updated',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `cus_${id}`, object: 'customer' } },
  } as unknown as Stripe.Event;
}

async function insertEvent(id: string, status: string, receivedDaysAgo: number): Promise<void> {
  const receivedAt = new Date(Date.now() - receivedDaysAgo * DAY);
  await sql(
    `insert into webhook_event (id, created_at, updated_at, stripe_event_id, type, payload, object_id, source, status,
       attempts, stripe_created_at, received_at)
     values (gen_random_uuid(), ?, ?, ?, 'customer.updated', ?, null, 'webhook', ?, 1, ?, ?)`,
    [receivedAt, receivedAt, id, JSON.stringify(stripeEvent(id)), status, receivedAt, receivedAt],
  );
}

describe('webhook events and sent mails', () => {
  it('drops payloads after 3 days and rows after 30; a redelivery of a pruned event is still a duplicate', async () => {
    const prefix = `evt_retention_${Date.now()}`;
    await insertEvent(`${prefix}_fresh`, 'processed', 1);
    await insertEvent(`${prefix}_pruned`, 'processed', 4);
    await insertEvent(`${prefix}_ignored`, 'ignored', 5);
    await insertEvent(`${prefix}_failed`, 'failed', 10);
    await insertEvent(`${prefix}_dead`, 'dead', 40);
    await insertEvent(`${prefix}_gone`, 'processed', 31);
    const inbox = new InboxRetention(app.app.orm, { payloadDays: 3, rowDays: 30 });
    // The 31-day-old row loses its payload, then its row, in the same run.
    expect(await inbox.run(new Date())).toEqual({ payloadsPruned: 3, rowsDeleted: 1 });
    const rows = await sql<{ stripe_event_id: string; kept: boolean }>(
      `select stripe_event_id, payload is not null as kept from webhook_event where stripe_event_id like ? order by 1`,
      [`${prefix}%`],
    );
    expect(rows).toEqual([
      { stripe_event_id: `${prefix}_dead`, kept: true },
      { stripe_event_id: `${prefix}_failed`, kept: true },
      { stripe_event_id: `${prefix}_fresh`, kept: true },
      { stripe_event_id: `${prefix}_ignored`, kept: false },
      { stripe_event_id: `${prefix}_pruned`, kept: false },
    ]);
    const redelivered = await new WebhookInbox(app.app.orm, quiet).store(
      stripeEvent(`${prefix}_pruned`),
      'webhook',
    );
    expect(redelivered.status).toBe('processed');
    expect(await inbox.run(new Date())).toEqual({ payloadsPruned: 0, rowsDeleted: 0 });
  });

  it('deletes sent mails past the retention, never pending or failed ones', async () => {
    const prefix = `mail_retention_${Date.now()}`;
    const old = new Date(Date.now() - 100 * DAY);
    for (const [suffix, status, sentAt] of [
      ['sent_old', 'sent', old],
      ['sent_recent', 'sent', new Date()],
      ['failed_old', 'failed', null],
      ['pending_old', 'pending', null],
    ] as const)
      await sql(
        `insert into notification (id, created_at, updated_at, account_id, kind, recipient, data, dedupe_key, status,
           attempts, next_attempt_at, sent_at)
         values (gen_random_uuid(), ?, ?, 'acct_mail', 'payment_failed', 'a@example.com', '{}', ?, ?, 1, ?, ?)`,
        [old, old, `${prefix}_${suffix}`, status, old, sentAt],
      );
    expect(await new NotificationRetention(app.app.orm, 90).run(new Date())).toBe(1);
    const left = await sql<{ dedupe_key: string }>(
      'select dedupe_key from notification where dedupe_key like ? order by 1',
      [`${prefix}%`],
    );
    expect(left.map((row) => row.dedupe_key)).toEqual([
      `${prefix}_failed_old`,
      `${prefix}_pending_old`,
      `${prefix}_sent_recent`,
    ]);
  });
});

describe('the maintenance job', () => {
  function counterValue(body: string, series: string): number {
    const line = body.split('\n').find((row) => row.startsWith(`${series} `));
    return Number(line?.split(' ')[1] ?? Number.NaN);
  }

  it('runs under the reconciler lock, skips while another holds it, and its metrics move', async () => {
    const before = (await app.app.metrics.exposition()).body;
    await insertEvent(`evt_job_${Date.now()}`, 'processed', 5);
    // A model call's credit hold settled long ago (credit-hold-retention.test.ts has the rules).
    const old = new Date(Date.now() - (SETTINGS.keepDays + 2) * DAY);
    await sql(
      `insert into credit_hold (id, created_at, updated_at, account_id, credits, expires_at, state, settled_credits)
       values (gen_random_uuid(), ?, ?, 'acct_job_hold', 3, ?, 'settled', 3)`,
      [old, old, old],
    );
    const summary = await app.app.maintenance.runScheduled();
    expect(summary?.webhookPayloadsPruned).toBeGreaterThanOrEqual(1);
    expect(summary?.creditHoldsPruned).toBeGreaterThanOrEqual(1);
    expect(await sql(`select id from credit_hold where account_id = 'acct_job_hold'`)).toEqual([]);
    const after = (await app.app.metrics.exposition()).body;
    const payloads = 'billing_maintenance_rows_pruned_total{kind="webhook_payload"}';
    expect(counterValue(after, payloads)).toBeGreaterThan(counterValue(before, payloads));
    const holds = 'billing_maintenance_rows_pruned_total{kind="credit_hold"}';
    expect(counterValue(after, holds)).toBeGreaterThanOrEqual(counterValue(before, holds) + 1);
    const succeeded = 'billing_maintenance_runs_total{outcome="succeeded"}';
    expect(counterValue(after, succeeded)).toBe(counterValue(before, succeeded) + 1);
    expect(counterValue(after, 'billing_maintenance_last_success_timestamp_seconds')).toBeGreaterThan(0);

    const held = await new ReconcileLock(app.config.database.url).withLock(() =>
      app.app.maintenance.runScheduled(),
    );
    expect(held).toEqual({ result: null });
    const skipped = 'billing_maintenance_runs_total{outcome="skipped"}';
    expect(counterValue((await app.app.metrics.exposition()).body, skipped)).toBe(
      counterValue(after, skipped) + 1,
    );
  });
});

describe('a maintenance run that fails', () => {
  it('is counted as failed, leaves the last success alone and releases the lock for the reconciler', async () => {
    const registry = new Registry();
    const lock = new ReconcileLock(app.config.database.url);
    const broken = {
      usageRecords: { run: () => Promise.reject(new Error('disk full')) },
      inbox: new InboxRetention(app.app.orm, { payloadDays: 3, rowDays: 30 }),
      notifications: new NotificationRetention(app.app.orm, 90),
    } as unknown as ConstructorParameters<typeof DataMaintenance>[0];
    const job = new DataMaintenance(
      broken,
      lock,
      0,
      { now: () => new Date() },
      maintenanceMetrics([registry]),
      quiet,
    );
    await expect(job.runScheduled()).rejects.toThrow('disk full');
    const body = await registry.metrics();
    expect(body).toContain('billing_maintenance_runs_total{outcome="failed"} 1');
    expect(body).toContain('billing_maintenance_runs_total{outcome="succeeded"} 0');
    expect(body).toContain('billing_maintenance_last_success_timestamp_seconds 0');
    expect(body).toMatch(/^billing_maintenance_duration_seconds_count 1$/m);
    // The lock was let go: the next holder (a reconciliation) takes it at once.
    expect(await lock.withLock(async () => 'reconciled')).toEqual({ result: 'reconciled' });
  });
});

/** A database of its own with no migration applied, for a test that migrates step by step; dropped after. */
async function withUnmigratedDatabase(prefix: string, work: (orm: Orm) => Promise<void>): Promise<void> {
  const serverUrl = process.env.TEST_POSTGRES_SERVER_URL as string;
  const name = `${prefix}_${process.env.JEST_WORKER_ID ?? '0'}_${Date.now()}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database "${name}"`));
  const orm = await openDatabase({ url: databaseUrl(serverUrl, name), poolMax: 2 });
  try {
    await work(orm);
  } finally {
    await orm.close();
    await withAdminClient(serverUrl, (client) =>
      client.query(`drop database if exists "${name}" with (force)`),
    );
  }
}

describe('the migration to partitions', () => {
  it('moves existing records into daily partitions and copies the idempotency keys of the last 7 days', async () => {
    await withUnmigratedDatabase('billing_partition_migration', async (orm) => {
      await orm.getMigrator().up({ to: 'Migration20261205034840_usage_integrity' });
      const yesterday = new Date(Date.now() - DAY);
      const longAgo = new Date(Date.now() - 20 * DAY);
      await orm.em.getConnection().execute(
        `insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start)
         values (gen_random_uuid(), ?, ?, 'acct_moved', 'ai_requests', 2, 'recent', ?, ?),
                (gen_random_uuid(), ?, ?, 'acct_moved', 'ai_requests', 3, 'long-ago', ?, ?)`,
        [yesterday, yesterday, yesterday, yesterday, longAgo, longAgo, longAgo, longAgo],
      );
      await orm.getMigrator().up();
      const moved = await orm.em
        .getConnection()
        .execute<Array<{ key: string; partition: string }>>(
          `select idempotency_key as key, tableoid::regclass::text as partition from usage_record order by 1`,
        );
      expect(moved).toEqual([
        { key: 'long-ago', partition: nameOf(startOfUtcDay(longAgo.getTime())) },
        { key: 'recent', partition: nameOf(startOfUtcDay(yesterday.getTime())) },
      ]);
      const keys = await orm.em
        .getConnection()
        .execute<Array<{ key: string }>>('select idempotency_key as key from usage_record_key');
      // The last 7 days' keys: the longest window allowed.
      expect(keys).toEqual([{ key: 'recent' }]);
    });
  });
});

describe('the migration to a BRIN index on the keys’ creation time', () => {
  it('keeps a BRIN index built by hand beforehand (concurrently) and builds one where there is none', async () => {
    await withUnmigratedDatabase('billing_brin_migration', async (orm) => {
      const connection = () => orm.em.getConnection();
      const keyIndex = async () =>
        (
          await connection().execute<Array<{ oid: number; def: string }>>(
            `select c.oid::int as oid, pg_get_indexdef(c.oid) as def from pg_class c
            where c.relname = 'usage_record_key_created_at_index'`,
          )
        )[0];
      await orm.getMigrator().up({ to: 'Migration20261208142100_webhook_waiting_retry_index' });
      expect((await keyIndex())?.def).not.toContain('USING brin');
      // What docs/deployment.md tells a large deployment to run before the release.
      await connection().execute('drop index concurrently if exists usage_record_key_created_at_index');
      await connection().execute(
        'create index concurrently usage_record_key_created_at_index on usage_record_key using brin (created_at)',
      );
      const byHand = await keyIndex();
      await orm.getMigrator().up();
      expect(await keyIndex()).toEqual(byHand);
      expect(byHand?.def).toContain('USING brin');
      // Down and up again without the hand-built one: the migration builds it.
      await orm.getMigrator().down({ to: 'Migration20261208142100_webhook_waiting_retry_index' });
      expect((await keyIndex())?.def).not.toContain('USING brin');
      await orm.getMigrator().up();
      expect((await keyIndex())?.def).toContain('USING brin');
    });
  });
});
