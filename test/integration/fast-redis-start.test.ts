import { openInfrastructure } from '../../src/app/infrastructure';
import { createLogger } from '../../src/logging/pino-logger';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { describeWithRedis, testRedisUrl } from '../support/redis';
import { testConfig } from '../support/service';

/**
 * Start-up waits for the fail-fast Redis connection (usage copies, rate limits): a request served the moment
 * an instance starts must find it connected, or the instance counts an account's rate limit on its own for 5 s
 * (CI saw two fresh instances each let a shared budget through).
 */
describeWithRedis('the fail-fast Redis connection at start-up', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('is connected when the infrastructure is handed to the app', async () => {
    const config = testConfig(database.url, { REDIS_URL: testRedisUrl });
    const infrastructure = await openInfrastructure(config, {}, createLogger({ logLevel: 'silent' }));
    try {
      expect(infrastructure.fastRedis?.status).toBe('ready');
    } finally {
      await infrastructure.close();
    }
  });
});
