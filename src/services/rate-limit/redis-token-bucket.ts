import type Redis from 'ioredis';
import type { BucketLimit, TakeResult, TokenBuckets } from './token-bucket';

/**
 * One take, atomically, on a hash `{ tokens, at }`. The clock is Redis's own (TIME), so instances whose clocks
 * disagree still share one budget. The key expires once the bucket would be full again: an idle account costs
 * nothing. ARGV: capacity, refill per millisecond. Returns { allowed (0|1), milliseconds until the next token }.
 */
const TAKE = `
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(capacity, tokens + (now - at) * perMs) end
local allowed = 0
local retryMs = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retryMs = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / perMs) + 1000)
return { allowed, retryMs }
`;

interface TakeCommand {
  rateLimitTake(key: string, capacity: number, refillPerMs: string): Promise<[number, number]>;
}

/** Buckets in Redis, shared by every instance. A failing Redis call rejects: the caller falls back. */
export class RedisTokenBuckets implements TokenBuckets {
  constructor(private readonly redis: Redis) {
    redis.defineCommand('rateLimitTake', { numberOfKeys: 1, lua: TAKE });
  }

  async take(key: string, limit: BucketLimit): Promise<TakeResult> {
    const [allowed, retryAfterMs] = await (this.redis as unknown as TakeCommand).rateLimitTake(
      key,
      limit.capacity,
      (limit.refillPerSecond / 1000).toPrecision(12),
    );
    return { allowed: allowed === 1, retryAfterMs: Number(retryAfterMs) };
  }
}
