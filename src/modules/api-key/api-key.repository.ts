import { type Kysely, sql, type Transaction } from 'kysely';
import type { ApiKeyRow, Database, OrganizationRow, Role } from '../../db/database.js';
import { type Organization, toOrganization } from '../organization/organization.repository.js';

export interface ApiKey {
  id: string;
  organizationId: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export function toApiKey(row: Omit<ApiKeyRow, 'key_hash'>): ApiKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

const keyColumns = [
  'api_keys.id',
  'api_keys.organization_id',
  'api_keys.name',
  'api_keys.role',
  'api_keys.prefix',
  'api_keys.created_at',
  'api_keys.last_used_at',
  'api_keys.revoked_at',
] as const;

export async function insertApiKey(
  db: Kysely<Database> | Transaction<Database>,
  values: { organizationId: string; name: string; role: Role; prefix: string; keyHash: string },
): Promise<ApiKey> {
  const row = await db
    .insertInto('api_keys')
    .values({
      organization_id: values.organizationId,
      name: values.name,
      role: values.role,
      prefix: values.prefix,
      key_hash: values.keyHash,
    })
    .returning(keyColumns)
    .executeTakeFirstOrThrow();
  return toApiKey(row);
}

export interface KeyWithOrganization {
  key: ApiKey;
  keyHash: string;
  organization: Organization;
}

/** Keys joined to their organizations, with every column a KeyWithOrganization is made of. */
function keysWithOrganization(db: Kysely<Database>) {
  return db
    .selectFrom('api_keys')
    .innerJoin('organizations', 'organizations.id', 'api_keys.organization_id')
    .select([
      ...keyColumns,
      'api_keys.key_hash',
      'organizations.slug as org_slug',
      'organizations.name as org_name',
      'organizations.created_at as org_created_at',
    ]);
}

/** The one statement of authentication: the key by its visible prefix, with its organization. */
export async function findKeyByPrefix(db: Kysely<Database>, prefix: string): Promise<KeyWithOrganization | undefined> {
  const row = await keysWithOrganization(db).where('api_keys.prefix', '=', prefix).executeTakeFirst();
  return row && toKeyWithOrganization(row);
}

/** The key of a visible prefix with its organization, as a statement's first common table expression `found`. */
export function foundByPrefix(prefix: string) {
  return sql`
      select ${sql.join(keyColumns.map((column) => sql.ref(column)))}, api_keys.key_hash,
             organizations.slug as org_slug, organizations.name as org_name, organizations.created_at as org_created_at
      from api_keys inner join organizations on organizations.id = api_keys.organization_id
      where api_keys.prefix = ${prefix}`;
}

export type FoundRow = ApiKeyRow & { org_slug: string; org_name: string; org_created_at: Date };

export function toKeyWithOrganization(row: FoundRow): KeyWithOrganization {
  const organization: OrganizationRow = {
    id: row.organization_id,
    slug: row.org_slug,
    name: row.org_name,
    created_at: row.org_created_at,
  };
  return { key: toApiKey(row), keyHash: row.key_hash, organization: toOrganization(organization) };
}

/**
 * Records the use of these keys, in one statement, leaving alone any whose use was recorded less than a
 * minute ago (by another process), so that busy keys do not write on every request.
 */
export async function touchApiKey(db: Kysely<Database>, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`now()` })
    .where('id', '=', sql<string>`any(${[...ids]}::uuid[])`)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - interval '1 minute'`)]))
    .execute();
}

/** Whether any key, of any organization, other than the one named `name` in `organizationId` has ever been used. */
export async function anyKeyUsedBesides(db: Kysely<Database>, key: { organizationId: string; name: string }): Promise<boolean> {
  const row = await db
    .selectFrom('api_keys')
    .select('id')
    .where('last_used_at', 'is not', null)
    .where((eb) => eb.or([eb('organization_id', '<>', key.organizationId), eb('name', '<>', key.name)]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function findApiKeysByIds(db: Kysely<Database>, organizationId: string, ids: readonly string[]): Promise<ApiKey[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(keyColumns)
    .where('organization_id', '=', organizationId)
    .where('id', 'in', ids)
    .execute();
  return rows.map(toApiKey);
}

export async function listApiKeys(db: Kysely<Database>, organizationId: string, options: { includeRevoked: boolean }): Promise<ApiKey[]> {
  let query = db.selectFrom('api_keys').select(keyColumns).where('organization_id', '=', organizationId);
  if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map(toApiKey);
}

/** Up to `limit` keys, of any organization, whose visible prefix starts with `start`. */
export async function findApiKeysByPrefixStart(db: Kysely<Database>, start: string, limit: number): Promise<ApiKey[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(keyColumns)
    .where(sql<boolean>`starts_with(api_keys.prefix, ${start})`)
    .orderBy('prefix')
    .limit(limit)
    .execute();
  return rows.map(toApiKey);
}

/**
 * Revokes a key of the organization in the caller's transaction; returns undefined when there is none,
 * the key as it is when already revoked.
 */
export async function revokeApiKeyRow(
  trx: Transaction<Database>,
  organizationId: string | null,
  id: string,
): Promise<{ key: ApiKey; changed: boolean } | undefined> {
  let query = trx.selectFrom('api_keys').select(keyColumns).where('id', '=', id);
  if (organizationId !== null) query = query.where('organization_id', '=', organizationId);
  const current = await query.forUpdate().executeTakeFirst();
  if (!current) return undefined;
  if (current.revoked_at) return { key: toApiKey(current), changed: false };
  const row = await trx
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returning(keyColumns)
    .executeTakeFirstOrThrow();
  return { key: toApiKey(row), changed: true };
}

/** A key by its id, with its organization (revoked keys too: the caller decides what a revocation means). */
export async function findKeyById(db: Kysely<Database>, id: string): Promise<KeyWithOrganization | undefined> {
  const row = await keysWithOrganization(db).where('api_keys.id', '=', id).executeTakeFirst();
  return row && toKeyWithOrganization(row);
}
