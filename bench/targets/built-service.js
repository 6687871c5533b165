/**
 * The service as production runs it: the compiled output of `npm run build` (no TypeScript compiler loaded in
 * the process, which would add its own memory to the RSS measured). Started with the image's heap settings.
 * BENCH_SERVICE_ROOT runs another checkout's build instead (`npm run bench -- --before=DIR`), from that
 * checkout's directory (it reads its own plans/plans.yaml).
 */
const { existsSync } = require('node:fs');
const { resolve } = require('node:path');

const root = process.env.BENCH_SERVICE_ROOT ?? resolve(__dirname, '../..');
process.chdir(root);
require(resolve(root, 'node_modules/reflect-metadata'));
const { loadProcessConfig } = require(resolve(root, 'dist/src/config'));
const { createApp } = require(resolve(root, 'dist/src/app/create-app'));
// The collector's tuning main.ts sets, where that build has it (an older checkout under --before may not).
const heapTuning = resolve(root, 'dist/src/app/heap-tuning.js');
if (existsSync(heapTuning)) require(heapTuning).tuneHeap();
// BENCH_STATS=1 (bench:webhooks): the statements this process sends, printed on SIGUSR2 (service-stats.js).
const stats = process.env.BENCH_STATS === '1' ? require('./service-stats') : null;
stats?.countStatements(require(resolve(root, 'node_modules/pg')));
// BENCH_PROBE=/tmp/prefix: where a credit request's time goes, a line a second (credit-probe.js).
if (process.env.BENCH_PROBE) require('./credit-probe').probeCreditGroups(root, process.env.BENCH_PROBE);

async function main() {
  const app = await createApp(loadProcessConfig(), { migrate: true });
  // With its stdout going to a log file (bench/child-process.ts), the ready line goes to stderr instead.
  (process.env.READY_ON_STDERR ? console.error : console.log)(`READY ${await app.start()}`);
  stats?.printStatsOnSignal(app);
  process.once('SIGTERM', () => void app.stop().then(() => process.exit(0)));
}

void main();
