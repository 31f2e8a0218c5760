import type { Kysely } from 'kysely';
import type { Database } from './db/database.js';
import { ServiceError } from './errors.js';
import { type IssuedKey, issueApiKey } from './modules/api-key/api-key.service.js';
import { countOrganizations } from './modules/organization/organization.repository.js';
import { createOrganization } from './modules/organization/organization.service.js';

/**
 * On an empty database outside production, creates the `demo` organization and an ADMIN key, so that
 * the first query works minutes after cloning. Returns the key, which exists nowhere else, or null.
 */
export async function seedDemoOrganization(db: Kysely<Database>): Promise<IssuedKey | null> {
  if ((await countOrganizations(db)) > 0) return null;
  try {
    const organization = await createOrganization(db, { slug: 'demo', name: 'Demo organization' });
    return await issueApiKey(db, { organizationId: organization.id, role: 'ADMIN', name: 'demo admin key' });
  } catch (error) {
    // Another process starting on the same empty database seeded it first.
    if (error instanceof ServiceError && error.code === 'CONFLICT') return null;
    throw error;
  }
}
