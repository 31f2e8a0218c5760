import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { postgresBudgets } from '../../src/http/hardening.js';
import { DEFAULT_LOCAL_BUDGETS, type LocalBudgetOptions } from '../../src/http/limits/local-budgets.js';
import type { RateLimitStore } from '../../src/http/limits/rate-limit-store.js';
import { createLogger } from '../../src/logger.js';
import { type RateLimitBudgets, RateLimiter } from '../../src/http/limits/rate-limiter.js';
import { openRedisRateLimitStore } from '../../src/http/limits/redis-rate-limit-store.js';

/** The Redis server tests use for the Redis budget store (started by the machine or CI). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Budgets over generous defaults, kept in the gateway's database or in Redis (under a prefix of the test's
 * own). In the database they are counted in the gateway and flushed in batches as in production
 * (`local`, defaults DEFAULT_LOCAL_BUDGETS; `flushMs: 0` charges every request in the database).
 */
export type TestRateLimit = Partial<RateLimitBudgets> & {
  store?: 'postgres' | 'redis';
  redisPrefix?: string;
  local?: Partial<LocalBudgetOptions>;
};

/** A rate limiter for a test gateway, and the store it keeps its budgets in. */
export async function openTestRateLimiter(
  db: Kysely<Database>,
  options: TestRateLimit,
): Promise<{ limiter: RateLimiter; store: RateLimitStore }> {
  const { store: kind = 'postgres', redisPrefix, local, ...budgets } = options;
  const store =
    kind === 'redis'
      ? await openRedisRateLimitStore(TEST_REDIS_URL, redisPrefix)
      : postgresBudgets({ db }, { ...DEFAULT_LOCAL_BUDGETS, ...local }, createLogger({ level: 'silent' }));
  const limiter = new RateLimiter(store, {
    windowSeconds: 60,
    apiKeyPoints: 1_000_000,
    organizationPoints: 1_000_000,
    integrationTests: 1_000,
    integrationTestWindowSeconds: 60,
    ...budgets,
  });
  return { limiter, store };
}
