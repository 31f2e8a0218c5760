import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { purgeExpiredKeys } from '../http/idempotency/idempotency.repository.js';
import type { Logger } from '../logger.js';
import { purgeEventsBefore } from '../modules/events/event.repository.js';

export const IDEMPOTENCY_PURGE_TASK = 'retention.purge-idempotency-keys';

/** How often expired Idempotency-Keys are purged (they are kept at least IDEMPOTENCY_TTL_HOURS). */
export const IDEMPOTENCY_PURGE_PERIOD_MS = 10 * 60_000;

/** Deletes Idempotency-Keys past their retention, once for all processes. */
export async function purgeIdempotencyKeys(db: Kysely<Database>, logger: Logger): Promise<number> {
  const count = await purgeExpiredKeys(db);
  if (count > 0) logger.info({ count }, 'purged expired idempotency keys');
  return count;
}

export const EVENT_PURGE_TASK = 'retention.purge-events';

/** How often events past EVENT_RETENTION_DAYS are purged. */
export const EVENT_PURGE_PERIOD_MS = 60 * 60_000;

/** Deletes published events older than the retention (EVENT_RETENTION_DAYS), once for all processes. */
export async function purgeEvents(db: Kysely<Database>, retentionDays: number, logger: Logger): Promise<number> {
  const count = await purgeEventsBefore(db, new Date(Date.now() - retentionDays * 86_400_000));
  if (count > 0) logger.info({ count, retentionDays }, 'purged events past their retention');
  return count;
}
