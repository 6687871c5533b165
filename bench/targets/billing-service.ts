/**
 * The service under test from its TypeScript sources (under swc): the full stack (config, auth, context,
 * DataLoaders, database, pub/sub). The benches run built-service.js instead once `npm run build` has run.
 */
import 'reflect-metadata';
import pg from 'pg';
import { createApp } from '../../src/app/create-app';
import { tuneHeap } from '../../src/app/heap-tuning';
import { loadProcessConfig } from '../../src/config';
import { countStatements, printStatsOnSignal } from './service-stats';

const STATS = process.env.BENCH_STATS === '1';
if (STATS) countStatements(pg);

async function main(): Promise<void> {
  tuneHeap();
  const app = await createApp(loadProcessConfig(), { migrate: true });
  // With its stdout going to a log file (bench/child-process.ts), the ready line goes to stderr instead.
  (process.env.READY_ON_STDERR ? console.error : console.log)(`READY ${await app.start()}`);
  if (STATS) printStatsOnSignal(app);
  process.once('SIGTERM', () => void app.stop().then(() => process.exit(0)));
}

void main();
