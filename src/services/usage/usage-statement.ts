import type { Knex } from 'knex';
import type { Orm } from '../../database/database';

/**
 * Runs one statement of the usage hot path on its own (its implicit transaction) with its values bound as
 * parameters. MikroORM's `execute` writes the values into the SQL text instead, escaping each character: for a
 * group's JSON of 100 records that is a good part of the call's CPU (profiled 2026-12-06). The driver's error
 * (with PostgreSQL's `code`) comes through as it is.
 */
export async function runStatement<Row>(
  orm: Orm,
  sql: string,
  values: readonly Knex.RawBinding[],
): Promise<Row[]> {
  const result = await orm.em.getConnection().getKnex().raw<{ rows: Row[] }>(sql, values);
  return result.rows;
}

/**
 * A PostgreSQL array literal of `values` (bound as one text parameter, cast in the SQL, e.g. `?::int[]`): a column
 * of a group's records costs PostgreSQL far less to read than the same values in JSON (measured 2026-12-06: three
 * `jsonb_to_recordset` over 100 records were a quarter of a batch's statement). Knex's bindings take no array
 * with nulls; strings are quoted and escaped, dates sent as ISO 8601 with their zone, null as NULL.
 */
export function arrayLiteral(values: ReadonlyArray<string | number | Date | null>): string {
  let literal = '{';
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (index > 0) literal += ',';
    if (value === null || value === undefined) literal += 'NULL';
    else if (typeof value === 'number') literal += String(value);
    else if (value instanceof Date) literal += value.toISOString();
    // Most keys need no escape: the test is cheaper than a replace that finds nothing (a batch has 100 keys).
    else if (value.includes('"') || value.includes('\\')) literal += `"${value.replace(/[\\"]/g, '\\$&')}"`;
    else literal += `"${value}"`;
  }
  return `${literal}}`;
}
