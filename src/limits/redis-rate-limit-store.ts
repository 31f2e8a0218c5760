import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { BucketState, RateLimitStore } from './rate-limit-store.js';

/**
 * Budgets in Redis, counted by rate-limiter-flexible (an atomic INCRBY with expiry per budget, fixed
 * windows like the PostgreSQL store). Connects before returning, so that a wrong REDIS_URL stops the
 * gateway at start rather than letting every request through unlimited.
 */
export async function openRedisRateLimitStore(url: string, keyPrefix = 'igw-rate'): Promise<RateLimitStore> {
  // No offline queue: while Redis is unreachable a charge fails at once (and the request is let through)
  // instead of waiting for a reconnection.
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.connect();
  const limiters = new Map<string, RateLimiterRedis>();
  const limiterFor = (limit: number, windowSeconds: number) => {
    const id = `${limit}/${windowSeconds}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({ storeClient: client, keyPrefix, points: limit, duration: windowSeconds });
      limiters.set(id, limiter);
    }
    return limiter;
  };
  return {
    kind: 'redis',
    charge(charges) {
      return Promise.all(
        charges.map(async (charge): Promise<BucketState> => {
          let res: RateLimiterRes;
          try {
            res = await limiterFor(charge.limit, charge.windowSeconds).consume(charge.key, charge.points);
          } catch (rejection) {
            // The library rejects with the budget's state when it is overrun, with an Error when Redis fails.
            if (!(rejection instanceof RateLimiterRes)) throw rejection;
            res = rejection;
          }
          return { key: charge.key, limit: charge.limit, spent: res.consumedPoints, resetInMs: res.msBeforeNext };
        }),
      );
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
