import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { findOrganizationBySlug, insertOrganization, listOrganizations, type Organization } from './organization.repository.js';

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Creates an organization; the slug is its stable, URL-safe handle. */
export async function createOrganization(db: Kysely<Database>, input: { slug: string; name?: string | undefined }): Promise<Organization> {
  const slug = input.slug.trim().toLowerCase();
  if (!SLUG_PATTERN.test(slug)) {
    throw new ServiceError('VALIDATION', 'Slug must be 1-63 lowercase letters, digits or inner hyphens.', ['slug']);
  }
  const name = (input.name ?? slug).trim();
  if (name.length === 0 || name.length > 200) {
    throw new ServiceError('VALIDATION', 'Name must be 1-200 characters.', ['name']);
  }
  const organization = await insertOrganization(db, { slug, name });
  if (!organization) {
    throw new ServiceError('CONFLICT', `An organization with slug "${slug}" already exists.`, ['slug']);
  }
  return organization;
}

export async function requireOrganization(db: Kysely<Database>, slug: string): Promise<Organization> {
  const organization = await findOrganizationBySlug(db, slug.trim().toLowerCase());
  if (!organization) throw new ServiceError('NOT_FOUND', `No organization with slug "${slug}".`, ['org']);
  return organization;
}

export { listOrganizations };
