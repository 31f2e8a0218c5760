import type { Kysely } from 'kysely';
import type { AuthKind, Database, IntegrationHealth, IntegrationStatus, Role } from '../../src/db/database.js';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import { issueApiKey } from '../../src/modules/api-key/api-key.service.js';
import { OPERATOR_ACTOR } from '../../src/modules/events/event-actor.js';
import type { Organization } from '../../src/modules/organization/organization.repository.js';
import { createOrganization } from '../../src/modules/organization/organization.service.js';

export interface OrgFixture {
  organization: Organization;
  /** Full API keys by role, ready for an Authorization header. */
  keys: Record<Role, string>;
}

/** An organization with one key of each role. */
export async function createOrgWithKeys(db: Kysely<Database>, slug: string): Promise<OrgFixture> {
  const organization = await createOrganization(db, { slug, name: `Org ${slug}` });
  const keys = {} as Record<Role, string>;
  for (const role of ['VIEWER', 'EDITOR', 'ADMIN'] as const) {
    keys[role] = (await issueApiKey(db, { organizationId: organization.id, role }, { actor: OPERATOR_ACTOR, requestId: null })).secret;
  }
  return { organization, keys };
}

export interface IntegrationFixture {
  provider?: string;
  displayName?: string;
  environment?: string | null;
  authKind?: AuthKind;
  status?: IntegrationStatus;
  health?: IntegrationHealth;
  lastCheckAt?: Date | null;
  requestedScopes?: string[];
  grantedScopes?: string[] | null;
  createdAt?: Date;
  updatedAt?: Date;
  lastSync?: { status: 'RUNNING' | 'SUCCEEDED' | 'FAILED'; startedAt: Date; finishedAt: Date | null; error: string | null };
}

/** Inserts an integration row directly, for read-path tests; returns its database id and global ID. */
export async function insertIntegration(
  db: Kysely<Database>,
  organizationId: string,
  fixture: IntegrationFixture = {},
): Promise<{ id: string; globalId: string }> {
  const now = new Date();
  const lastCheckAt = fixture.lastCheckAt ?? null;
  const row = await db
    .insertInto('integrations')
    .values({
      organization_id: organizationId,
      provider: fixture.provider ?? 'github',
      display_name: fixture.displayName ?? 'Integration',
      environment: fixture.environment === undefined ? 'production' : fixture.environment,
      auth_kind: fixture.authKind ?? 'API_TOKEN',
      status: fixture.status ?? 'ACTIVE',
      health: fixture.health ?? 'UNKNOWN',
      last_check_at: lastCheckAt,
      last_check_ok: lastCheckAt ? fixture.health === 'HEALTHY' : null,
      last_check_latency_ms: lastCheckAt ? 42 : null,
      last_check_http_status: lastCheckAt ? 200 : null,
      last_check_message: lastCheckAt ? 'ok' : null,
      requested_scopes: fixture.requestedScopes ?? ['repo'],
      granted_scopes: fixture.grantedScopes === undefined ? null : fixture.grantedScopes,
      last_sync_status: fixture.lastSync?.status ?? null,
      last_sync_started_at: fixture.lastSync?.startedAt ?? null,
      last_sync_finished_at: fixture.lastSync?.finishedAt ?? null,
      last_sync_error: fixture.lastSync?.error ?? null,
      created_at: fixture.createdAt ?? now,
      updated_at: fixture.updatedAt ?? fixture.createdAt ?? now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, globalId: encodeGlobalID('Integration', row.id) };
}

/** Appends health checks to an integration's history, one a minute ending at `endingAt`. */
export async function insertHealthChecks(
  db: Kysely<Database>,
  organizationId: string,
  integrationId: string,
  count: number,
  endingAt = new Date(),
): Promise<string[]> {
  if (count === 0) return [];
  const rows = await db
    .insertInto('integration_health_checks')
    .values(
      Array.from({ length: count }, (_, i) => ({
        organization_id: organizationId,
        integration_id: integrationId,
        checked_at: new Date(endingAt.getTime() - (count - 1 - i) * 60_000),
        ok: i % 3 !== 0,
        http_status: i % 3 !== 0 ? 200 : 503,
        latency_ms: 10 + i,
        error_code: i % 3 !== 0 ? null : 'PROVIDER_UNAVAILABLE',
        message: i % 3 !== 0 ? 'ok' : 'provider answered 503',
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** The visible prefix of a full API key: `igw_` and 12 hex digits. */
export function keyPrefix(key: string): string {
  return key.slice(0, 16);
}

/** The stored row of a full API key, found by its prefix. */
export async function findApiKeyRow(db: Kysely<Database>, key: string) {
  return db.selectFrom('api_keys').selectAll().where('prefix', '=', keyPrefix(key)).executeTakeFirstOrThrow();
}

/** How many API key rows exist, optionally in one organization. */
export async function countApiKeys(db: Kysely<Database>, organizationId?: string): Promise<number> {
  let query = db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('count'));
  if (organizationId) query = query.where('organization_id', '=', organizationId);
  return Number((await query.executeTakeFirstOrThrow()).count);
}

/** Inserts `count` integrations one after another, the i-th shaped by `make(i)`; returns them in insertion order. */
export async function insertIntegrations(
  db: Kysely<Database>,
  organizationId: string,
  count: number,
  make: (index: number) => IntegrationFixture = () => ({}),
): Promise<{ id: string; globalId: string }[]> {
  const inserted: { id: string; globalId: string }[] = [];
  for (let i = 0; i < count; i += 1) inserted.push(await insertIntegration(db, organizationId, make(i)));
  return inserted;
}
