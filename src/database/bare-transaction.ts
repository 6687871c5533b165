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
  | {
      commit: true;
      value: T;
      /** `preceding`: statements sent before it in the same round trip (`EXECUTE p(…); EXECUTE c(…); COMMIT`). */
      closing?: BareStatement & { preceding?: readonly BareStatement[]; read: (rows: object[]) => void };
    }
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
  return onConnection(orm, async (client) => {
    const executes = [];
    for (const statement of openings) executes.push(await executeOf(client, statement));
    const results = (await client.query(['BEGIN', ...executes].join('; '))) as unknown as QueryResults;
    const outcome = await work(
      results.slice(1).map((result) => result.rows) as Opened,
      preparedSqlOn(client),
    );
    return finish(client, outcome);
  });
}

/**
 * The statement that opens a bare transaction sent with work's first (`inBareTransactionWithFirst`), and whether
 * the work goes on after it: `proceeds` gets its rows (the webhook inbox's claim: a row when this attempt holds
 * the event, none when it was processed elsewhere first).
 */
export interface BareOpening<Row extends object> extends BareStatement {
  proceeds: (opened: Row[]) => boolean;
}

/**
 * As `inBareTransaction`, but the opening statement goes out with **work's first statement**, `BEGIN; EXECUTE
 * opening(literals); EXECUTE first(literals)` in one round trip (issue 14: the webhook worker's claim and its
 * subscription statement, which the handler decides from the event and not from the claim's rows). PostgreSQL runs
 * them statement after statement, each with its own snapshot (read committed), so the first runs with the
 * opening's row locks held. The first statement is sent before the opening's rows are seen: when `proceeds` says
 * no, work never gets that statement's answer (its call rejects), and the transaction, with whatever the statement
 * did, is rolled back (null). A work that sends no statement gets its opening sent alone; a first statement with a
 * value that has no literal form (an object) goes bound, after the opening sent alone.
 */
export async function inBareTransactionWithFirst<Row extends object, T>(
  orm: Orm,
  opening: BareOpening<Row>,
  work: (sql: PreparedSql) => Promise<BareOutcome<T>>,
): Promise<T | null> {
  return onConnection(orm, async (client) => {
    const lazy = lazyOpening(client, `BEGIN; ${await executeOf(client, opening)}`, opening.proceeds);
    // Declined: work's outcome (or its failure at the refused statement) is set aside, and everything rolled back.
    const outcome = await work(lazy.sql)
      .then(async (decided) => {
        await lazy.openedAlone();
        return decided;
      })
      .catch((error: unknown) => {
        if (lazy.declined()) return { commit: false as const };
        throw error;
      });
    return finish(client, lazy.declined() ? { commit: false } : outcome);
  });
}

type QueryResults = Array<{ rows: object[] }>;

/** The opening of `inBareTransactionWithFirst`, sent with the first statement of `sql` (or alone at the end). */
function lazyOpening(client: Client, openingSql: string, proceeds: (opened: never[]) => boolean) {
  const prepared = preparedSqlOn(client);
  const state = { declined: false, first: null as Promise<unknown> | null };
  const open = (results: QueryResults) => {
    state.declined = !proceeds((results[1]?.rows ?? []) as never[]);
    if (state.declined) throw new NotProceeding();
  };
  const sendFirst = async <Result extends object>(text: string, params: readonly unknown[]) => {
    if (!params.every(isBareValue)) {
      open((await client.query(openingSql)) as unknown as QueryResults);
      return prepared<Result>(text, params);
    }
    const statement = await executeOf(client, { text, values: params });
    const results = (await client.query(`${openingSql}; ${statement}`)) as unknown as QueryResults;
    open(results);
    return (results[2]?.rows ?? []) as Result[];
  };
  const sql: PreparedSql = async <Result extends object>(text: string, params: readonly unknown[] = []) => {
    // Every later statement waits for the first's sending (work may send the next before awaiting the first).
    if (!state.first) {
      const sending = sendFirst<Result>(text, params);
      state.first = sending;
      return sending;
    }
    await state.first.catch(() => undefined);
    if (state.declined) throw new NotProceeding();
    return prepared<Result>(text, params);
  };
  return {
    sql,
    declined: () => state.declined,
    /** Sends the opening alone when work sent no statement. */
    openedAlone: async () => {
      if (!state.first) open((await client.query(openingSql)) as unknown as QueryResults);
    },
  };
}

/** The opening's answer when it said not to proceed: work stops there and everything rolls back. */
class NotProceeding extends Error {
  constructor() {
    super('the opening of this bare transaction said not to proceed');
  }
}

/** A connection of the ORM's pool for `run`, rolled back if `run` fails, and given back. */
async function onConnection<T>(orm: Orm, run: (client: Client) => Promise<T>): Promise<T> {
  const knexClient = orm.em.getConnection().getKnex().client as Knex.Client;
  const client = (await knexClient.acquireConnection()) as Client;
  try {
    return await run(client);
  } catch (error) {
    // A failure of work leaves the transaction open, and one of a query that opened or closed it an aborted one:
    // close it before the connection goes back (a ROLLBACK outside a transaction only warns), and throw the failure
    // itself (a `NeedsOrm` stays one even when the ROLLBACK fails).
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await knexClient.releaseConnection(client);
  }
}

/** Work's outcome carried out: COMMIT (with its closing statement in the same round trip) or ROLLBACK. */
async function finish<T>(client: Client, outcome: BareOutcome<T>): Promise<T | null> {
  if (!outcome.commit) {
    await client.query('ROLLBACK');
    return null;
  }
  const { closing } = outcome;
  if (!closing) {
    await client.query('COMMIT');
    return outcome.value;
  }
  // A failing statement skips the COMMIT after it: the transaction is left aborted, rolled back by onConnection.
  const statements = [...(closing.preceding ?? []), closing];
  const executes = [];
  for (const statement of statements) executes.push(await executeOf(client, statement));
  const closed = (await client.query(`${executes.join('; ')}; COMMIT`)) as unknown as QueryResults;
  closing.read(closed[statements.length - 1]?.rows ?? []);
  return outcome.value;
}

/** Whether `value` has a literal form here (undefined is NULL, as pg binds it; an object has none). */
function isBareValue(value: unknown): value is BareValue {
  if (value === null || value === undefined || value instanceof Date) return true;
  if (Array.isArray(value)) return value.every(isBareValue);
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** `EXECUTE name(literals)` of the statement, prepared at the SQL level on `client` first if it is not yet. */
async function executeOf(
  client: Client,
  statement: { text: string; values: readonly unknown[] },
): Promise<string> {
  const name = await preparedAtSqlLevel(client, statement.text);
  return `EXECUTE ${name}(${(statement.values as readonly BareValue[]).map(literalOf).join(', ')})`;
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

/**
 * Names by statement text: few but for the credit save's, whose text has one shape per count of writes and
 * entries; capped as `prepared-transaction.ts` caps its own (a name not remembered is hashed again, the same).
 */
const namesByText = new Map<string, string>();
const MAX_REMEMBERED = 1000;

function sqlLevelNameOf(text: string): string {
  let name = namesByText.get(text);
  if (!name) {
    name = `bare_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (namesByText.size < MAX_REMEMBERED) namesByText.set(text, name);
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
