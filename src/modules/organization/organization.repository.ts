import type { Kysely } from 'kysely';
import type { Database, OrganizationRow } from '../../db/database.js';
import { isUuid, parseGlobalID } from '../../ids.js';

/** What a slug can be (organization.service.ts `SLUG_PATTERN` says what a new one must be). */
const SLUG = /^[a-z0-9-]{1,63}$/;

export interface Organization {
  id: string;
  slug: string;
  name: string;
  createdAt: Date;
}

export function toOrganization(row: OrganizationRow): Organization {
  return { id: row.id, slug: row.slug, name: row.name, createdAt: row.created_at };
}

/** Inserts an organization, or returns undefined when the slug is taken. */
export async function insertOrganization(db: Kysely<Database>, values: { slug: string; name: string }): Promise<Organization | undefined> {
  const row = await db
    .insertInto('organizations')
    .values(values)
    .onConflict((oc) => oc.column('slug').doNothing())
    .returningAll()
    .executeTakeFirst();
  return row && toOrganization(row);
}

export async function findOrganizationBySlug(db: Kysely<Database>, slug: string): Promise<Organization | undefined> {
  const row = await db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst();
  return row && toOrganization(row);
}

/**
 * The organization a reference names: a UUID is an id, a GraphQL ID of an Organization is its id, and
 * anything else is a slug (exactly, slugs being lowercase). One statement, none for a reference that
 * can name nothing.
 */
export async function findOrganizationByReference(db: Kysely<Database>, reference: string): Promise<Organization | undefined> {
  const named = organizationNamed(reference);
  if (!named) return undefined;
  const query = db.selectFrom('organizations').selectAll();
  const row = await ('id' in named ? query.where('id', '=', named.id) : query.where('slug', '=', named.slug)).executeTakeFirst();
  return row && toOrganization(row);
}

/** What a reference names: an id (a UUID, or a GraphQL ID of an Organization), a slug, or nothing an organization can be. */
export function organizationNamed(reference: string): { id: string } | { slug: string } | null {
  if (isUuid(reference)) return { id: reference.toLowerCase() };
  const global = parseGlobalID(reference);
  if (global?.typename === 'Organization') return { id: global.id };
  return SLUG.test(reference) ? { slug: reference } : null;
}

export async function listOrganizations(db: Kysely<Database>): Promise<Organization[]> {
  const rows = await db.selectFrom('organizations').selectAll().orderBy('slug').execute();
  return rows.map(toOrganization);
}

export async function countOrganizations(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('organizations')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('count'))
    .executeTakeFirstOrThrow();
  return row.count;
}
