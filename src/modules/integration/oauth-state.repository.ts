import { type Insertable, type Kysely, sql, type Transaction } from 'kysely';
import type { Database, OAuthStateRow, OAuthStatesTable } from '../../db/database.js';

// Pending OAuth2 authorizations: each `state` is stored hashed, bound to its integration, and works once.

type Db = Kysely<Database> | Transaction<Database>;

/** Stores a pending authorization, keyed by its hashed state, with what the callback needs to finish it. */
export async function insertOAuthState(trx: Db, values: Omit<Insertable<OAuthStatesTable>, 'created_at' | 'used_at'>): Promise<void> {
  await trx.insertInto('oauth_states').values(values).execute();
}

/** Marks a state used, atomically, so that it works once; returns the row as it was, used or not. */
export async function consumeOAuthState(db: Db, stateHash: string): Promise<{ row: OAuthStateRow; firstUse: boolean } | undefined> {
  const consumed = await db
    .updateTable('oauth_states')
    .set({ used_at: sql<Date>`now()` })
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (consumed) return { row: consumed, firstUse: true };
  const row = await db.selectFrom('oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  return row && { row, firstUse: false };
}

/** Ends pending authorizations of an integration, e.g. when it is revoked or reconnected. */
export async function expireOAuthStates(trx: Db, integrationId: string): Promise<void> {
  await trx
    .updateTable('oauth_states')
    .set({ used_at: sql<Date>`now()` })
    .where('integration_id', '=', integrationId)
    .where('used_at', 'is', null)
    .execute();
}
