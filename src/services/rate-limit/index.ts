export {
  MUTATION_CLASSES,
  type MutationClass,
  MutationRateLimiter,
  type RateLimitRefusal,
  type RateLimitSettings,
  STRIPE_READ_FIELDS,
} from './mutation-rate-limiter';
export { RedisTokenBuckets } from './redis-token-bucket';
export { type BucketLimit, InMemoryTokenBuckets, type TakeResult, type TokenBuckets } from './token-bucket';
