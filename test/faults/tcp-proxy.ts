import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of a server the test must not stop (the shared PostgreSQL): cutting it is an honest
 * outage from the client's side — every open connection drops and new ones are refused — without touching
 * the server other test files use.
 */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Drops every connection and refuses new ones (the port is closed). */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  /** Connections accepted since start. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  let server: Server | null = null;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const listening = createServer((client) => {
        accepted += 1;
        const upstream = connect(target);
        for (const socket of [client, upstream]) {
          open.add(socket);
          socket.on('close', () => open.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => {
        const address = listening.address();
        if (typeof address === 'object' && address) port = address.port;
        server = listening;
        resolve();
      });
    });

  const cut = async () => {
    const running = server;
    server = null;
    const closed = running ? new Promise<void>((done) => running.close(() => done())) : Promise.resolve();
    for (const socket of open) socket.destroy();
    await closed;
  };

  await listen();
  return {
    port,
    cut,
    restore: listen,
    get accepted() {
      return accepted;
    },
    close: cut,
  };
}
