import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Knex } from 'knex';
import type { Client } from 'pg';
import type { Orm } from './database';

/** One statement of the transaction, `?` for each value; PostgreSQL's bigints come back as strings. */
export type PreparedSql = <Row extends object>(text: string, params?: readonly unknown[]) => Promise<Row[]>;

interface Prepared {
  name: string;
  text: string;
}

/** Statement texts seen (few: each is written once in the code; the entries' insert varies by count). */
const preparedByText = new Map<string, Prepared>();
const MAX_REMEMBERED = 1000;

/**
 * Runs `work` in one transaction whose statements are prepared on their connection the first time and then only
 * bound and executed: the credits ledger's hot path (a model call's hold and settle) pays PostgreSQL's parse and
 * plan once per connection, not per statement, and no escaping of values into SQL text in Node (MikroORM's
 * `execute` does both every time: profiled 2026-12-07, issue 17). The transaction is the ORM's (`em` is in it:
 * what is persisted through it commits or rolls back with the statements); its statements go to the driver's
 * client on the transaction's connection.
 */
export async function inPreparedTransaction<T>(
  orm: Orm,
  work: (sql: PreparedSql, em: EntityManager) => Promise<T>,
): Promise<T> {
  return orm.em.fork().transactional(async (em) => work(await preparedSqlIn(em), em));
}

/**
 * The prepared statements of `em`'s transaction (which must be open): for a hot statement run inside a
 * transaction the ORM opened (the webhook worker's inbox claim and subscription statement, issue 14).
 */
export async function preparedSqlIn(em: EntityManager): Promise<PreparedSql> {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  if (!transaction) throw new Error('preparedSqlIn: no transaction context');
  // Inside a knex transaction, acquiring answers the transaction's own connection: the driver's client.
  const client = (await transaction.client.acquireConnection()) as Client;
  return preparedSqlOn(client);
}

/** The prepared statements of `client`, a connection in a transaction opened below the ORM (`bare-transaction.ts`). */
export function preparedSqlOn(client: Client): PreparedSql {
  return async <Row extends object>(text: string, params: readonly unknown[] = []) => {
    const prepared = preparedOf(text);
    const result = await client.query<Row>({
      name: prepared.name,
      text: prepared.text,
      values: [...params],
    });
    return result.rows;
  };
}

function preparedOf(text: string): Prepared {
  const known = preparedByText.get(text);
  if (known) return known;
  let position = 0;
  const prepared = {
    name: `prepared_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`,
    text: text.replace(/\?/g, () => `$${++position}`),
  };
  if (preparedByText.size < MAX_REMEMBERED) preparedByText.set(text, prepared);
  return prepared;
}
