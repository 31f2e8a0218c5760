import { Redis } from 'ioredis';
import type { BucketState, RateLimitStore } from './rate-limit-store.js';

/**
 * Charges one request to its budgets, all or nothing, in one atomic step (Redis runs a script alone):
 * reads every budget's points and time left, admits the request only if each has room for its points,
 * and only then adds them (INCRBY; a budget without a running window gets a new one, SET with PX, fixed
 * like the PostgreSQL store's). KEYS are the budgets; ARGV holds points, limit and window milliseconds for
 * each, in order. Returns the verdict (1 or 0), then each budget's points spent and milliseconds left:
 * after the charge when admitted, as they stand (a full window when none runs) when refused.
 */
const CHARGE_SCRIPT = `
local n = #KEYS
local spent, left, running = {}, {}, {}
local admitted = 1
for i = 1, n do
  local points, limit, window = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local ttl = redis.call('PTTL', KEYS[i])
  running[i] = ttl > 0
  if running[i] then
    spent[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
    left[i] = ttl
  else
    spent[i] = 0
    left[i] = window
  end
  if spent[i] + points > limit then admitted = 0 end
end
local result = { admitted }
for i = 1, n do
  if admitted == 1 then
    local points = tonumber(ARGV[3 * i - 2])
    if running[i] then
      spent[i] = redis.call('INCRBY', KEYS[i], points)
    else
      redis.call('SET', KEYS[i], points, 'PX', left[i])
      spent[i] = points
    end
  end
  result[#result + 1] = spent[i]
  result[#result + 1] = left[i]
end
return result`;

type ChargingRedis = Redis & { chargeBudgets(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number[]> };

/**
 * Budgets in Redis. A request's charges are all or nothing (CHARGE_SCRIPT). rate-limiter-flexible, which
 * counted them before, consumes each budget on its own (its RateLimiterUnion too, without undoing the
 * others when one refuses) and counts a refused request's points, so that a key kept sending after its own
 * budget was spent went on spending its organization's. The keys stay as that library named them
 * (`<keyPrefix>:<budget>`, an integer with an expiry), so that windows running at an upgrade carry on.
 * A script touches all of a request's keys, so Redis Cluster is not supported: one Redis server (with
 * replicas) holds them. Connects before returning, so that a wrong REDIS_URL stops the gateway at start
 * rather than letting every request through unlimited.
 */
export async function openRedisRateLimitStore(url: string, keyPrefix = 'igw-rate'): Promise<RateLimitStore> {
  // No offline queue: while Redis is unreachable a charge fails at once (and the request is let through)
  // instead of waiting for a reconnection.
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 }) as ChargingRedis;
  client.on('error', () => {});
  await client.connect();
  // Sent by its SHA once loaded (EVALSHA), with the script itself only when Redis does not know it yet.
  client.defineCommand('chargeBudgets', { lua: CHARGE_SCRIPT });
  return {
    kind: 'redis',
    async charge(charges) {
      if (charges.length === 0) return { admitted: true, states: [] };
      const keys = charges.map((charge) => `${keyPrefix}:${charge.key}`);
      const args = charges.flatMap((charge) => [charge.points, charge.limit, charge.windowSeconds * 1000]);
      const [admitted, ...budgets] = await client.chargeBudgets(keys.length, ...keys, ...args);
      const states = charges.map(
        (charge, index): BucketState => ({
          key: charge.key,
          limit: charge.limit,
          spent: Number(budgets[2 * index]),
          resetInMs: Number(budgets[2 * index + 1]),
        }),
      );
      return { admitted: admitted === 1, states };
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
