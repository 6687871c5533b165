import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MIGRATIONS } from '../../migrations';
import { openDatabase } from '../../src/database/database';
import { printBillingSchema } from '../../src/resolvers';
import { createTestDatabase } from '../support/database';

describe('committed artefacts stay in step with the code', () => {
  it('schema.graphql is what the resolvers produce (run `npm run schema:emit` if this fails)', async () => {
    const committed = readFileSync(resolve(__dirname, '../../schema.graphql'), 'utf8');
    expect(committed).toBe(await printBillingSchema());
  });

  it('migrations/index.ts lists every migration file, in order', () => {
    const files = readdirSync(resolve(__dirname, '../../migrations'))
      .filter((file) => /^Migration\d+.*\.ts$/.test(file))
      .map((file) => file.replace(/\.ts$/, ''))
      .sort();
    expect(MIGRATIONS.map((migration) => migration.name)).toEqual(files);
  });

  it('the entities and the migrations agree (run `npm run db:migration:create` if this fails)', async () => {
    const database = await createTestDatabase();
    const orm = await openDatabase({ url: database.url, poolMax: 1 });
    try {
      expect(await orm.getMigrator().getPendingMigrations()).toEqual([]);
      expect(await orm.getMigrator().checkMigrationNeeded()).toBe(false);
    } finally {
      await orm.close();
      await database.drop();
    }
  });
});
