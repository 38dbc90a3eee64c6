// Tests name the harness's own redis-server `TestRedis`.
export { RedisServer as TestRedis, SHARED_REDIS_URL, assertRedisServerAvailable } from '../../support/redis.js';
