import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from '../entities';

export interface DatabaseSettings {
  url: string;
  poolMax: number;
  /** Called with each SQL statement; tests count statements through it. */
  onQuery?: (sql: string) => void;
  /**
   * Where the driver's own messages go (knex's, e.g. `Connection Error: … Connection ended unexpectedly` when
   * PostgreSQL drops a pooled connection); unset, knex prints them to the console, outside the JSON log.
   */
  onDriverMessage?: (level: 'warn' | 'error', message: string) => void;
}

/**
 * The ORM's options, in one place for the service, the migration commands and the tests. Entities and
 * migrations are listed, not discovered, so the same options work from TypeScript sources and from `dist/`.
 */
export function ormOptions(settings: DatabaseSettings): Options {
  return defineConfig({
    clientUrl: settings.url,
    entities: ENTITIES,
    extensions: [Migrator],
    pool: { min: 0, max: settings.poolMax },
    // Each request forks its own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    forceUtcTimezone: true,
    discovery: { warnWhenNoEntities: true },
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: 'migrations',
      pathTs: 'migrations',
      migrationsList: MIGRATIONS,
      // Diffs are taken against the real database, so a check after migrating proves entities and migrations agree.
      snapshot: false,
      transactional: true,
      allOrNothing: true,
      emit: 'ts',
      silent: true,
    },
    ...(settings.onDriverMessage ? { driverOptions: { log: driverLog(settings.onDriverMessage) } } : {}),
    debug: settings.onQuery ? ['query'] : false,
    logger: settings.onQuery ? (message: string) => settings.onQuery?.(message) : undefined,
  });
}

/** knex's `log` option: warnings, errors and deprecations to `report`; its debug output dropped. */
function driverLog(report: NonNullable<DatabaseSettings['onDriverMessage']>) {
  return {
    warn: (message: unknown) => report('warn', String(message)),
    error: (message: unknown) => report('error', String(message)),
    deprecate: (message: unknown) => report('warn', String(message)),
    debug: () => undefined,
  };
}
