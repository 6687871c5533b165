import 'reflect-metadata';
import { ConfigError, loadProcessConfig } from './config';
import { createApp } from './app/create-app';
import { tuneHeap } from './app/heap-tuning';

/** The runtime the image ships and the bench figures are measured on. */
const PRODUCTION_NODE_MAJOR = 24;

/** Entry point: `node dist/src/main.js` in production, `npm run dev` in development. */
async function main(): Promise<void> {
  tuneHeap();
  const config = loadProcessConfig();
  const app = await createApp(config, { migrate: !config.isProduction });
  const url = await app.start();
  app.http.app.log.info({ url: `${url}/graphql`, node: process.version }, 'CODITECT Billing is serving');
  if (config.isProduction && Number(process.versions.node.split('.')[0]) < PRODUCTION_NODE_MAJOR) {
    // Node 20 still runs the service (development machines ship it), but it is past its end of life and slower.
    app.http.app.log.warn(
      { node: process.version },
      `production should run Node ${PRODUCTION_NODE_MAJOR} LTS (the Docker image and .nvmrc do)`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.http.app.log.info({ signal }, 'shutting down gracefully');
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5000).unref();
    await app.stop();
    clearTimeout(force);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error('CODITECT Billing failed to start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
});
