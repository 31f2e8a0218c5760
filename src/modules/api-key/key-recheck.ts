import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/database.js';
import { RevokedKeyError } from '../../errors.js';

/** A mutation that has run this long re-reads its API key before it commits. */
export const RECHECK_KEY_AFTER_MS = 1000;

/** Whose request a mutation's transaction commits, and since when that request runs. */
export interface KeyedRequest {
  /** No key for a signed-in user: their token was verified when the request arrived, and nothing revokes it sooner. */
  viewer: { apiKey: { id: string } | null };
  /** When the request arrived (request-clock.ts). */
  startedAt: Date;
}

/**
 * Runs a mutation's committing transaction. A request authenticates once, when it arrives; one that has
 * run for a second or more (waiting on a provider, on a row lock) reads its API key again as the last
 * statement before the commit, under a share lock, so that a revocation either committed before (the
 * transaction rolls back with RevokedKeyError, and nothing the mutation did is kept) or waits until
 * after the commit. Shorter requests, and those of a signed-in user, commit without the extra statement.
 */
export function commitWithLiveKey<T>(
  db: Kysely<Database>,
  request: KeyedRequest,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const result = await work(trx);
    const apiKey = request.viewer.apiKey;
    if (apiKey && Date.now() - request.startedAt.getTime() >= RECHECK_KEY_AFTER_MS) {
      const key = await trx.selectFrom('api_keys').select('revoked_at').where('id', '=', apiKey.id).forShare().executeTakeFirst();
      if (!key || key.revoked_at !== null) throw new RevokedKeyError();
    }
    return result;
  });
}
