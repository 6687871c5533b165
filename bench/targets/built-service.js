/**
 * The service as production runs it: the compiled output of `npm run build` (no TypeScript compiler loaded in
 * the process, which would add its own memory to the RSS measured). Started with the image's heap settings.
 */
require('reflect-metadata');
const { loadProcessConfig } = require('../../dist/src/config');
const { startService } = require('../../dist/src/service');

async function main() {
  const service = await startService(loadProcessConfig(), { migrate: true });
  console.log(`READY ${service.url}`);
  process.once('SIGTERM', () => void service.stop().then(() => process.exit(0)));
}

void main();
