import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { type Client, escapeLiteral } from 'pg';
import type { Orm } from './database';
import { type PreparedSql, preparedSqlOn } from './prepared-transaction';

/** A value of the opening statement: written into the `EXECUTE` as a literal. */
export type OpeningValue = string | Date | number | boolean | null;

/** What `work` decides: commit with `value`, or roll back (then the answer is null). */
export type BareOutcome<T> = { commit: true; value: T } | { commit: false };

/** SQL-level prepared statements known to be on a connection (by name); a new connection starts empty. */
const preparedOn = new WeakMap<Client, Set<string>>();

/**
 * Runs a transaction below the ORM on a connection of its pool, opened by `BEGIN` and its first statement in
 * **one round trip** (issue 14: the webhook worker's hot path, where each round trip is a socket write in Node
 * and a wake-up of the backend, and MikroORM's and knex's transaction objects cost a third of the worker's CPU).
 * The first statement (`opening`, `?` for each value) is prepared at the SQL level once per connection
 * (`PREPARE`, planned once) and then sent as `BEGIN; EXECUTE name(literals)`, a simple query that PostgreSQL
 * runs as one transaction that stays open after it (a multi-statement query holding `BEGIN`). Its values are
 * written as literals by pg's `escapeLiteral`. `work` gets the opening's rows and the transaction's prepared
 * statements, and decides to commit or roll back; an error rolls back and is rethrown.
 */
export async function inBareTransaction<Row extends object, T>(
  orm: Orm,
  opening: { text: string; values: readonly OpeningValue[] },
  work: (opened: Row[], sql: PreparedSql) => Promise<BareOutcome<T>>,
): Promise<T | null> {
  const knexClient = orm.em.getConnection().getKnex().client as Knex.Client;
  const client = (await knexClient.acquireConnection()) as Client;
  try {
    const name = await preparedAtSqlLevel(client, opening.text);
    const args = opening.values.map(literalOf).join(', ');
    const results = (await client.query(`BEGIN; EXECUTE ${name}(${args})`)) as unknown as Array<{
      rows: Row[];
    }>;
    let outcome: BareOutcome<T>;
    try {
      outcome = await work(results[1]?.rows ?? [], preparedSqlOn(client));
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    await client.query(outcome.commit ? 'COMMIT' : 'ROLLBACK');
    return outcome.commit ? outcome.value : null;
  } catch (error) {
    // A failure of BEGIN's query itself leaves an aborted transaction open: close it before the connection goes back.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await knexClient.releaseConnection(client);
  }
}

/** The statement's SQL-level name on `client`, prepared there first if it is not yet (one round trip, once). */
async function preparedAtSqlLevel(client: Client, text: string): Promise<string> {
  const name = sqlLevelNameOf(text);
  let known = preparedOn.get(client);
  if (known?.has(name)) return name;
  let position = 0;
  await client.query(`PREPARE ${name} AS ${text.replace(/\?/g, () => `$${++position}`)}`);
  if (!known) {
    known = new Set();
    preparedOn.set(client, known);
  }
  known.add(name);
  return name;
}

/** Names by statement text (few: each is written once in the code). */
const namesByText = new Map<string, string>();

function sqlLevelNameOf(text: string): string {
  let name = namesByText.get(text);
  if (!name) {
    name = `bare_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    namesByText.set(text, name);
  }
  return name;
}

function literalOf(value: OpeningValue): string {
  if (value === null) return 'NULL';
  if (value instanceof Date) return escapeLiteral(value.toISOString());
  return escapeLiteral(String(value));
}
