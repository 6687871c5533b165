import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { DEFAULT_FORWARD_SECRET, Emulator, type EmulatorConfig } from './core/emulator';
import type { ResourceModule } from './core/http';
import { Router } from './core/router';
import { createServer } from './core/server';
import type { Store } from './core/store';
import { modules } from './registry';

export { COLLECTIONS } from './core/collections';
export { Emulator, type WebhookSecretRecord } from './core/emulator';
export type { Store } from './core/store';
export { signPayload } from './core/webhooks';
export type { StoredMeterEvent } from './resources/meter-events';

export interface StartOptions extends EmulatorConfig {
  /** Default 12111; 0 picks a free port (tests). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** JSON file the state is loaded from (if it exists) and saved to after changes and on close. */
  dataFile?: string;
  /** Extra modules served after the registry's (tests use it for probe routes). */
  extraModules?: ResourceModule[];
}

export interface RunningEmulator {
  url: string;
  port: number;
  host: string;
  emulator: Emulator;
  store: Store;
  /** Secret that signs events sent to `forwardTo`. */
  forwardSecret: string;
  /** Saves (with `dataFile`), stops webhooks and the server, drops open connections. */
  close(): Promise<void>;
}

export async function startEmulator(options: StartOptions = {}): Promise<RunningEmulator> {
  const emulator = new Emulator(options);
  const { dataFile } = options;
  if (dataFile && existsSync(dataFile)) {
    emulator.store.load(dataFile);
    emulator.afterLoad();
  }
  const router = new Router();
  const all = [...modules, ...(options.extraModules ?? [])];
  for (const m of all) for (const r of m.routes ?? []) router.add(r);
  for (const m of all) m.setup?.(emulator);

  let saveTimer: NodeJS.Timeout | null = null;
  const saveNow = (): void => {
    if (!dataFile) return;
    emulator.store.meta.clockOffset = emulator.clock.offset;
    emulator.store.save(dataFile);
  };
  if (dataFile) {
    emulator.store.onChange = () => {
      if (saveTimer) return;
      saveTimer = setTimeout(() => {
        saveTimer = null;
        saveNow();
      }, 50);
    };
    saveNow();
  }

  const { server, held } = createServer(emulator, router);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 12111, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    host,
    emulator,
    store: emulator.store,
    forwardSecret: options.webhookSecret ?? DEFAULT_FORWARD_SECRET,
    close: async () => {
      if (saveTimer) clearTimeout(saveTimer);
      saveTimer = null;
      saveNow();
      emulator.store.onChange = () => {};
      emulator.webhooks.close();
      for (const s of held) s.destroy();
      held.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
