import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCatalogSyncStripe } from '../../src/catalog/catalog-sync-sdk';

/** The SDK the sync runs with (npm run stripe:sync, npm run dev) reaches the server at apiBase, as itself. */
describe('createCatalogSyncStripe', () => {
  it('sends to the host, port and protocol of apiBase with the key and the app name', async () => {
    const seen: Array<{ url: string | undefined; headers: IncomingHttpHeaders }> = [];
    const server = createServer((request, response) => {
      seen.push({ url: request.url, headers: request.headers });
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ object: 'list', data: [], has_more: false, url: '/v1/products' }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const { port } = server.address() as AddressInfo;
      const stripe = createCatalogSyncStripe(
        { secretKey: 'sk_test_catalog_sdk_unit', apiBase: `http://127.0.0.1:${port}` },
        { appName: 'coditect-billing dev', timeoutMs: 5000 },
      );
      const products = await stripe.products.list({ limit: 1 });
      expect(products.data).toEqual([]);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.url).toBe('/v1/products?limit=1');
      expect(seen[0]?.headers.authorization).toBe('Bearer sk_test_catalog_sdk_unit');
      expect(seen[0]?.headers['user-agent']).toContain('coditect-billing dev');
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});
