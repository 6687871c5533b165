import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { type Client, escapeLiteral } from 'pg';
import type { Orm } from './database';
import { type PreparedSql, preparedSqlOn } from './prepared-transaction';

/**
 * A value of a statement sent as `EXECUTE`: written into it as a literal. Arrays go as PostgreSQL array literals
 * (the text pg itself sends for an array parameter), so the statement casts them as it would a bound parameter.
 */
export type BareValue = string | Date | number | boolean | null | readonly BareValue[];

/** A statement sent as `EXECUTE name(literals)` in a simple query: `?` for each value. */
export interface BareStatement {
  text: string;
  values: readonly BareValue[];
}

/**
 * What `work` decides: commit with `value`, or roll back (then the answer is null). A commit may carry a last
 * statement (`closing`) sent with it as `EXECUTE …; COMMIT` in one round trip; its rows go to `read` before the
 * answer (a failure of it rolls everything back and is thrown, as an error of `work` is).
 */
export type BareOutcome<T> =
  | { commit: true; value: T; closing?: BareStatement & { read: (rows: object[]) => void } }
  | { commit: false };

/** SQL-level prepared statements known to be on a connection (by name); a new connection starts empty. */
const preparedOn = new WeakMap<Client, Set<string>>();

/**
 * Runs a transaction below the ORM on a connection of its pool, opened by `BEGIN` and its first statements in
 * **one round trip** (issue 14: the webhook worker's hot path, where each round trip is a socket write in Node
 * and a wake-up of the backend, and MikroORM's and knex's transaction objects cost a third of the worker's CPU;
 * issue 17: a credit group's lock and reads ahead). Each opening statement (`?` for each value) is prepared at the
 * SQL level once per connection (`PREPARE`, planned once) and then sent as `BEGIN; EXECUTE a(literals); EXECUTE
 * b(literals)`, a simple query that PostgreSQL runs statement after statement in one transaction that stays open
 * after it (a multi-statement query holding `BEGIN`). Values are written as literals by pg's `escapeLiteral`.
 * `work` gets each opening statement's rows (in order) and the transaction's prepared statements, and decides to
 * commit or roll back; an error rolls back and is rethrown.
 */
export async function inBareTransaction<Opened extends object[][], T>(
  orm: Orm,
  openings: readonly BareStatement[],
  work: (opened: Opened, sql: PreparedSql) => Promise<BareOutcome<T>>,
): Promise<T | null> {
  const knexClient = orm.em.getConnection().getKnex().client as Knex.Client;
  const client = (await knexClient.acquireConnection()) as Client;
  try {
    const executes = [];
    for (const statement of openings) executes.push(await executeOf(client, statement));
    const results = (await client.query(['BEGIN', ...executes].join('; '))) as unknown as Array<{
      rows: object[];
    }>;
    // An error of `work` is rolled back by the catch below, once (a second ROLLBACK only warns in the server's log).
    const outcome = await work(
      results.slice(1).map((result) => result.rows) as Opened,
      preparedSqlOn(client),
    );
    if (!outcome.commit) {
      await client.query('ROLLBACK');
      return null;
    }
    const { closing } = outcome;
    if (!closing) {
      await client.query('COMMIT');
      return outcome.value;
    }
    // A failing statement skips the COMMIT after it: the transaction is left aborted, rolled back below.
    const closed = (await client.query(`${await executeOf(client, closing)}; COMMIT`)) as unknown as Array<{
      rows: object[];
    }>;
    closing.read(closed[0]?.rows ?? []);
    return outcome.value;
  } catch (error) {
    // A failure of `work` leaves the transaction open, and one of a query that opened or closed it an aborted one:
    // close it before the connection goes back (a ROLLBACK outside a transaction only warns), and throw the failure
    // itself (a `NeedsOrm` stays one even when the ROLLBACK fails).
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await knexClient.releaseConnection(client);
  }
}

/** `EXECUTE name(literals)` of the statement, prepared at the SQL level on `client` first if it is not yet. */
async function executeOf(client: Client, statement: BareStatement): Promise<string> {
  const name = await preparedAtSqlLevel(client, statement.text);
  return `EXECUTE ${name}(${statement.values.map(literalOf).join(', ')})`;
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

function literalOf(value: BareValue): string {
  // A closing statement's values are cast from `unknown[]` (credit-save-batch.ts): undefined is NULL, as pg binds it.
  if (value === null || value === undefined) return 'NULL';
  return escapeLiteral(textOf(value));
}

/** The value's text as PostgreSQL reads it: an array as an array literal, each element quoted (NULL bare). */
function textOf(value: Exclude<BareValue, null>): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `{${value.map(elementOf).join(',')}}`;
  return String(value);
}

function elementOf(value: BareValue): string {
  if (value === null || value === undefined) return 'NULL';
  // A nested array is a dimension, not a quoted element (`{{1,2},{3,4}}`, as pg's own `arrayString` writes it).
  if (Array.isArray(value)) return textOf(value);
  return `"${textOf(value).replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}
