/** The service under test: the full stack (config, auth, context, DataLoaders, database, pub/sub). */
import 'reflect-metadata';
import { loadProcessConfig } from '../../src/config';
import { startService } from '../../src/service';

async function main(): Promise<void> {
  const service = await startService(loadProcessConfig(), { migrate: true });
  console.log(`READY ${service.url}`);
  process.once('SIGTERM', () => void service.stop().then(() => process.exit(0)));
}

void main();
