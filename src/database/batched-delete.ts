import type { Orm } from './database';

/** The rows a retention deletes: from `table`, those `where` picks (with `params`), found by `key`. */
export interface BatchedDelete {
  table: string;
  /**
   * `ctid` where a row changed meanwhile must be left for the next run (a new row version has another ctid);
   * a primary key column otherwise.
   */
  key: 'ctid' | 'id';
  where: string;
  params: unknown[];
}

/**
 * Deletes `batch` rows per statement, each statement its own short transaction (it locks only the rows it
 * deletes), at most `maxBatches` statements a run so a run stays short whatever piled up; answers how many.
 */
export async function deleteInBatches(
  orm: Orm,
  rows: BatchedDelete,
  limits: { batch: number; maxBatches: number },
): Promise<number> {
  const { table, key, where, params } = rows;
  let deleted = 0;
  for (let statement = 0; statement < limits.maxBatches; statement++) {
    const [answer] = await orm.em.fork().execute<Array<{ count: string }>>(
      `with gone as (
         delete from ${table} where ${key} = any(array(
           select ${key} from ${table} where ${where} limit ${limits.batch}))
         returning 1)
       select count(*) from gone`,
      params,
    );
    const count = Number(answer?.count ?? 0);
    deleted += count;
    if (count < limits.batch) break;
  }
  return deleted;
}
