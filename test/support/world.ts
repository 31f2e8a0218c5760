import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { createOrgWithKeys, type OrgFixture } from './fixtures.js';

/**
 * The two organizations suites run against: `acme`, the caller's own, and `globex`, a neighbour whose
 * data must never show through. Each has one API key of every role.
 */
export interface World {
  acme: OrgFixture;
  globex: OrgFixture;
}

/** Creates the two organizations of the world in a migrated database, `acme` first. */
export async function createWorld(db: Kysely<Database>): Promise<World> {
  const acme = await createOrgWithKeys(db, 'acme');
  const globex = await createOrgWithKeys(db, 'globex');
  return { acme, globex };
}
