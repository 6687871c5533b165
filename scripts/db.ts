/**
 * Migration commands: `up` applies pending migrations, `create` writes a migration for the difference between
 * the entities and the database and registers it, `check` fails when the entities and migrations disagree,
 * `down` reverts the last applied migration (a rollback's last resort: docs/deployment.md). In production,
 * after `npm run build`: `node dist/scripts/db.js up` (or `down`).
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readDatabaseSettings } from '../src/config';
import { openDatabase } from '../src/database/database';

async function main(command: string | undefined): Promise<void> {
  const orm = await openDatabase(readDatabaseSettings(), {
    migrate: command !== 'create' && command !== 'down',
  });
  try {
    const migrator = orm.getMigrator();
    if (command === 'up' || command === undefined) {
      console.log('Migrations applied; the database is current.');
    } else if (command === 'create') {
      await migrator.up();
      const result = await migrator.createMigration('migrations');
      if (!result.fileName) {
        console.log('Entities and database agree: no migration needed.');
        return;
      }
      registerMigration(result.fileName);
      console.log(`Created migrations/${result.fileName} and registered it in migrations/index.ts`);
    } else if (command === 'down') {
      const [reverted] = await migrator.down();
      console.log(
        reverted
          ? `Reverted ${reverted.name}; run \`up\` to apply it again.`
          : 'No migration is applied: nothing to revert.',
      );
    } else if (command === 'check') {
      if (await migrator.checkMigrationNeeded()) {
        console.error('The entities differ from the migrations: run `npm run db:migration:create`.');
        process.exitCode = 1;
      } else {
        console.log('Entities and migrations agree.');
      }
    } else {
      console.error(`Unknown command "${command}": use up, down, create or check.`);
      process.exitCode = 2;
    }
  } finally {
    await orm.close();
  }
}

function registerMigration(fileName: string): void {
  const indexPath = join('migrations', 'index.ts');
  const moduleName = basename(fileName).replace(/\.ts$/, '');
  const className = moduleName;
  let index = readFileSync(indexPath, 'utf8');
  index = index.replace(
    "import type { MigrationObject } from '@mikro-orm/core';",
    `import type { MigrationObject } from '@mikro-orm/core';\nimport { ${className} } from './${moduleName}';`,
  );
  index = index.replace(/\] = \[([^\]]*)\];/, (_all, list: string) => {
    const entries = list.trim() ? `${list.trim().replace(/,$/, '')},\n  ` : '';
    return `] = [\n  ${entries}{ name: '${moduleName}', class: ${className} },\n];`;
  });
  writeFileSync(indexPath, index);
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
