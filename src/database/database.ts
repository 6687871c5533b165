import { MikroORM } from '@mikro-orm/postgresql';
import { type DatabaseSettings, ormOptions } from './orm-options';

export type Orm = MikroORM;

/** Connects to PostgreSQL; `migrate` applies pending migrations first (dev start-up and tests). */
export async function openDatabase(settings: DatabaseSettings, { migrate = false } = {}): Promise<Orm> {
  const orm = await MikroORM.init(ormOptions(settings));
  if (migrate) await orm.getMigrator().up();
  return orm;
}

/** True when a trivial query answers: what readiness reports. */
export async function isDatabaseReachable(orm: Orm): Promise<boolean> {
  try {
    await orm.em.getConnection().execute('select 1');
    return true;
  } catch {
    return false;
  }
}
