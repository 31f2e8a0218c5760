import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { purgeExpiredKeys } from '../http/idempotency/idempotency.repository.js';
import type { Logger } from '../logger.js';

export const IDEMPOTENCY_PURGE_TASK = 'retention.purge-idempotency-keys';

/** How often expired Idempotency-Keys are purged (they are kept at least IDEMPOTENCY_TTL_HOURS). */
export const IDEMPOTENCY_PURGE_PERIOD_MS = 10 * 60_000;

/** Deletes Idempotency-Keys past their retention, once for all processes. */
export async function purgeIdempotencyKeys(db: Kysely<Database>, logger: Logger): Promise<number> {
  const count = await purgeExpiredKeys(db);
  if (count > 0) logger.info({ count }, 'purged expired idempotency keys');
  return count;
}
