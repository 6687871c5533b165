import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { BillingClient, idempotencyKeyHeader, type UsageGate, usageGate } from '../../src/client';
import type { TestService } from './service';

/**
 * An AI gateway as a product team would write it: a real Express app whose completions endpoint is behind the
 * usage middleware (`usageGate`, metric `ai_requests`, the account from the `x-account` header, the usage key
 * from the client's `Idempotency-Key`), talking to the billing service with a service token.
 */
export interface AiGateway {
  url: string;
  gate: UsageGate<IncomingMessage, ServerResponse>;
  /** One AI request by `accountId` with the idempotency key `key`; the response, unread. */
  request(accountId: string, key: string): Promise<Response>;
  /** `count` AI requests by one user, 16 at a time, keys `${prefix}-0`, `${prefix}-1`, …; returns the statuses. */
  requests(accountId: string, count: number, prefix: string): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startAiGateway(service: TestService): Promise<AiGateway> {
  const client = new BillingClient({
    url: `${service.url}/graphql`,
    token: await service.token('ai-gateway', { roles: ['service'] }),
    // These tests assert exact accounting, not availability: under CI's load (two suites, coverage on, one
    // account's 16 concurrent requests queued on its lane) a reservation has taken longer than the client's
    // default 5 s, and the gate then answers 503 as documented (usage-middleware.test.ts covers that answer).
    timeoutMs: 60_000,
  });
  const gate = usageGate({
    client,
    metric: 'ai_requests',
    accountId: (req) => req.headers['x-account'] as string,
    // This gateway trusts its (signed-in) clients' keys: a client's retry of one request is counted once.
    idempotencyKey: idempotencyKeyHeader,
  });
  const app = express();
  app.post('/v1/completions', gate, (_req, res) => {
    res.json({ completion: 'Hello from the model' });
  });
  let server: Server;
  try {
    server = await new Promise<Server>((ready, fail) => {
      const listening = app.listen(0, '127.0.0.1', 1024);
      // Longer than fetch's own idle timeout (4 s), so the client, not this server, closes an idle connection: a
      // server closing one just as fetch reuses it answers the request with ECONNRESET (seen on a loaded machine).
      listening.keepAliveTimeout = 60_000;
      listening.once('listening', () => ready(listening));
      listening.once('error', fail);
    });
  } catch (error) {
    await gate.close();
    throw error;
  }
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request = (accountId: string, key: string) =>
    fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'x-account': accountId, 'idempotency-key': key },
    });
  return {
    url,
    gate,
    request,
    requests: async (accountId, count, prefix) => {
      const statuses: number[] = [];
      for (let start = 0; start < count; start += 16) {
        const batch = Array.from({ length: Math.min(16, count - start) }, (_, i) =>
          request(accountId, `${prefix}-${start + i}`).then(async (response) => {
            const body = await response.text();
            // A refusal the test did not expect names itself in the failure, not only as a status.
            if (response.status !== 200 && response.status !== 402)
              process.stderr.write(
                `ai-gateway: ${prefix}-${start + i} answered ${response.status} ${body}\n`,
              );
            return response.status;
          }),
        );
        statuses.push(...(await Promise.all(batch)));
      }
      return statuses;
    },
    stop: async () => {
      await gate.close();
      await new Promise((done) => server.close(done));
    },
  };
}
