import { createServer } from 'node:net';

/**
 * Ports below Linux's ephemeral range (32768–60999), a block of its own per Jest worker: a port chosen here and
 * closed again until its server binds it is never handed to another worker (`listen(0)` takes ephemeral ports
 * only, and the other workers choose in their own blocks). A freed ephemeral port was once taken meanwhile by another
 * worker's server, and a client of this one talked to that (CI: a WebSocket client reading Redis's answers).
 */
const BLOCK = 2000;
const FIRST_PORT = 12000;

function tryPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 right now, in this worker's block (free again once this returns). */
export async function freePort(): Promise<number> {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  const start = FIRST_PORT + ((worker - 1) % 10) * BLOCK;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = start + Math.floor(Math.random() * BLOCK);
    if (await tryPort(port)) return port;
  }
  throw new Error(`no free port in ${start}–${start + BLOCK - 1}`);
}
