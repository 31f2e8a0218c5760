import { type Insertable, type Kysely, sql, type Transaction } from 'kysely';
import type { ConnectSessionRow, ConnectSessionsTable, Database } from '../../db/database.js';

// Connect sessions, row by row. A session is found by its token's hash, and spent atomically by the
// transaction that commits the connection it made.

type Db = Kysely<Database> | Transaction<Database>;

/** A session with whether the key that issued it still stands. */
export type SessionWithKey = ConnectSessionRow & { key_revoked: boolean };

export async function insertConnectSession(
  trx: Db,
  values: Omit<Insertable<ConnectSessionsTable>, 'id' | 'created_at' | 'spent_at' | 'attempts'>,
): Promise<ConnectSessionRow> {
  return trx.insertInto('connect_sessions').values(values).returningAll().executeTakeFirstOrThrow();
}

function withKey(db: Db) {
  return db
    .selectFrom('connect_sessions')
    .innerJoin('api_keys', 'api_keys.id', 'connect_sessions.created_by_key_id')
    .selectAll('connect_sessions')
    .select(sql<boolean>`api_keys.revoked_at is not null`.as('key_revoked'));
}

/** The session a token opens (by its hash), whatever its state. */
export async function findSessionByTokenHash(db: Db, tokenHash: string): Promise<SessionWithKey | undefined> {
  return withKey(db).where('connect_sessions.token_hash', '=', tokenHash).executeTakeFirst();
}

/** A session by id, whatever its state. */
export async function findSessionById(db: Db, id: string): Promise<SessionWithKey | undefined> {
  return withKey(db).where('connect_sessions.id', '=', id).executeTakeFirst();
}

/**
 * Counts one more connection attempt of a live session, unless it has made `max` already; false when
 * it has (or is no longer live), so that a page cannot be used to try tokens at a provider endlessly.
 */
export async function countAttempt(db: Db, id: string, max: number): Promise<boolean> {
  const counted = await db
    .updateTable('connect_sessions')
    .set({ attempts: sql<number>`attempts + 1` })
    .where('id', '=', id)
    .where('attempts', '<', max)
    .where('spent_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return counted !== undefined;
}

/** Remembers the integration a session's first attempt created, so that its later attempts reuse it. */
export async function noteSessionIntegration(trx: Db, id: string, integrationId: string): Promise<void> {
  await trx.updateTable('connect_sessions').set({ integration_id: integrationId }).where('id', '=', id).execute();
}

/**
 * Spends a session on the integration it connected, in the transaction that commits the connection:
 * only once (false when it was already spent), and only while it has not expired unless `evenExpired`
 * (an OAuth2 authorization started in time finishes after the session's expiry).
 */
export async function spendSession(
  trx: Db,
  id: string,
  integrationId: string,
  options: { evenExpired?: boolean } = {},
): Promise<ConnectSessionRow | undefined> {
  let query = trx
    .updateTable('connect_sessions')
    .set({ spent_at: sql<Date>`now()`, integration_id: integrationId })
    .where('id', '=', id)
    .where('spent_at', 'is', null);
  if (!options.evenExpired) query = query.where('expires_at', '>', sql<Date>`now()`);
  return query.returningAll().executeTakeFirst();
}
