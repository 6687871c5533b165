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
