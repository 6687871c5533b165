import type { Orm } from '../../src/database/database';
import { startTestService, type TestService } from '../support/service';

/**
 * The inbox's retry index holds the rows still in line only (migration 20261208142100, ADR 0031's amendment of
 * 2026-12-07): an update of an inbox row is never HOT (its status is in the queue's indexes), so an index of every
 * row took a new entry each time an event was marked processed, for a row `dueForRetry` never asks for again.
 */
let service: TestService;
let orm: Orm;

beforeAll(async () => {
  service = await startTestService();
  orm = service.app.orm;
});
afterAll(() => service.stop());

it('is partial on the statuses still in line, and the retry query can use it alone', async () => {
  const connection = orm.em.getConnection();
  const [index] = await connection.execute<Array<{ indexdef: string }>>(
    `select indexdef from pg_indexes where tablename = 'webhook_event' and indexname = 'webhook_event_next_attempt_at_index'`,
  );
  expect(index.indexdef).toMatch(
    /\(next_attempt_at\) WHERE \(status = ANY \(ARRAY\['received'::webhook_event_status, 'processing'::webhook_event_status, 'failed'::webhook_event_status\]\)\)$/,
  );
  // The planner proves `dueForRetry`'s status list implies the predicate (its order differs).
  const plan = await orm.em.fork().transactional(async (tx) => {
    await tx.getConnection().execute('set local enable_seqscan = off', [], 'all', tx.getTransactionContext());
    return tx
      .getConnection()
      .execute<Array<{ 'QUERY PLAN': string }>>(
        `explain select id from webhook_event where status in ('failed', 'received', 'processing') and next_attempt_at <= now() order by next_attempt_at limit 10`,
        [],
        'all',
        tx.getTransactionContext(),
      );
  });
  expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toMatch(/webhook_event_next_attempt_at_index/);
});
