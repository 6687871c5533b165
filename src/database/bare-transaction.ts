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
 * The statement that opens a bare transaction (`?` for each value) and whether the work goes on after it: `proceeds`
 * gets its rows (the webhook inbox's claim: a row when this attempt holds the event, none when it was processed
 * elsewhere first).
 */
export interface BareOpening<Row extends object> {
  text: string;
  values: readonly OpeningValue[];
  proceeds: (opened: Row[]) => boolean;
}

/** The first statement's answer when the opening said not to proceed: work stops there and everything rolls back. */
class NotProceeding extends Error {
  constructor() {
    super('the opening of this bare transaction said not to proceed');
  }
}

/**
 * Runs a transaction below the ORM on a connection of its pool, opened by `BEGIN`, its opening statement and the
 * work's first statement in **one round trip** (issue 14: the webhook worker's hot path, where each round trip is
 * a socket write in Node and a wake-up of the backend, and MikroORM's and knex's transaction objects cost a third
 * of the worker's CPU). Both statements are prepared at the SQL level once per connection (`PREPARE`, planned
 * once) and then sent as `BEGIN; EXECUTE opening(literals); EXECUTE first(literals)`, a simple query that
 * PostgreSQL runs statement after statement, each with its own snapshot (read committed), in one transaction
 * that stays open after it (a multi-statement query holding `BEGIN`). Values are written as literals by pg's
 * `escapeLiteral`. The first statement is sent before the opening's rows are seen: when `proceeds` says no, work
 * never gets that statement's answer (its call rejects), and the transaction, with whatever the statement did, is
 * rolled back (null). Otherwise `work` decides to commit or roll back; an error rolls back and is rethrown. A
 * work that sends no statement gets its opening sent alone.
 */
export async function inBareTransaction<Row extends object, T>(
  orm: Orm,
  opening: BareOpening<Row>,
  work: (sql: PreparedSql) => Promise<BareOutcome<T>>,
): Promise<T | null> {
  const knexClient = orm.em.getConnection().getKnex().client as Knex.Client;
  const client = (await knexClient.acquireConnection()) as Client;
  const state = { declined: false };
  // The first statement's sending: every later statement waits for it (work may not await one before the next).
  let first: Promise<unknown> | null = null;
  try {
    const openingSql = `BEGIN; ${await executeOf(client, opening.text, opening.values)}`;
    const prepared = preparedSqlOn(client);
    const open = (results: Array<{ rows: object[] }>) => {
      state.declined = !opening.proceeds((results[1]?.rows ?? []) as Row[]);
      if (state.declined) throw new NotProceeding();
    };
    const sendFirst = async <Result extends object>(text: string, params: readonly unknown[]) => {
      // A value with no literal form here (an array, an object) goes bound: the opening first, on its own.
      if (!params.every(isOpeningValue)) {
        open((await client.query(openingSql)) as unknown as Array<{ rows: object[] }>);
        return prepared<Result>(text, params);
      }
      const statement = await executeOf(client, text, params);
      const results = (await client.query(`${openingSql}; ${statement}`)) as unknown as Array<{
        rows: Result[];
      }>;
      open(results);
      return results[2]?.rows ?? [];
    };
    const sql: PreparedSql = async <Result extends object>(text: string, params: readonly unknown[] = []) => {
      if (!first) {
        const sending = sendFirst<Result>(text, params);
        first = sending;
        return sending;
      }
      await first.catch(() => undefined);
      if (state.declined) throw new NotProceeding();
      return prepared<Result>(text, params);
    };
    let outcome: BareOutcome<T>;
    try {
      outcome = await work(sql);
      if (!first) open((await client.query(openingSql)) as unknown as Array<{ rows: object[] }>);
    } catch (error) {
      await client.query('ROLLBACK');
      if (error instanceof NotProceeding || state.declined) return null;
      throw error;
    }
    const commit = outcome.commit && !state.declined;
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return commit && outcome.commit ? outcome.value : null;
  } catch (error) {
    // A failure of BEGIN's query itself leaves an aborted transaction open: close it before the connection goes back.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await knexClient.releaseConnection(client);
  }
}

/** `EXECUTE name(literals)` of a statement prepared at the SQL level on `client` (there first if it is not yet). */
async function executeOf(
  client: Client,
  text: string,
  values: ReadonlyArray<OpeningValue | undefined>,
): Promise<string> {
  const name = await preparedAtSqlLevel(client, text);
  return `EXECUTE ${name}(${values.map(literalOf).join(', ')})`;
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

/** Whether `value` is written as a literal by `literalOf` (undefined is NULL, as pg binds it). */
function isOpeningValue(value: unknown): value is OpeningValue | undefined {
  if (value === null || value === undefined || value instanceof Date) return true;
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function literalOf(value: OpeningValue | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return escapeLiteral(value.toISOString());
  return escapeLiteral(String(value));
}
