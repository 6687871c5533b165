/**
 * The service as production runs it: the compiled output of `npm run build` (no TypeScript compiler loaded in
 * the process, which would add its own memory to the RSS measured). Started with the image's heap settings.
 */
require('reflect-metadata');
const { loadProcessConfig } = require('../../dist/src/config');
const { createApp } = require('../../dist/src/app/create-app');

async function main() {
  const app = await createApp(loadProcessConfig(), { migrate: true });
  // With its stdout going to a log file (bench/child-process.ts), the ready line goes to stderr instead.
  (process.env.READY_ON_STDERR ? console.error : console.log)(`READY ${await app.start()}`);
  process.once('SIGTERM', () => void app.stop().then(() => process.exit(0)));
}

void main();
