/**
 * For the MikroORM CLI (`npx mikro-orm debug`, `schema:diff`, …). The service itself builds the same options
 * through `ormOptions` in src/database; migrations are run with `npm run db:migrate`.
 */
import 'reflect-metadata';
import { readDatabaseSettings } from './src/config';
import { ormOptions } from './src/database/orm-options';

export default ormOptions(readDatabaseSettings());
