/** Redis for integration tests. When it is unreachable (and CI is not set) the Redis suites skip, loudly. */
export const redisAvailable = process.env.TEST_REDIS_AVAILABLE === '1';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// A skipped Redis suite is announced by global setup in capitals; under CI=true setup fails instead.
export const describeWithRedis = redisAvailable ? describe : describe.skip;
