import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { issueApiKey } from '../src/modules/api-key/api-key.service.js';

/** The size of the seeded data. */
export interface SeedShape {
  organizations: number;
  integrationsPerOrganization: number;
  checksPerIntegration: number;
  /** Organizations (the first ones) that get a VIEWER and an EDITOR key and are queried under load. */
  benchmarkedOrganizations: number;
  /** Organizations after those that get keys too, for the mutation workloads (which add integrations). */
  mutationOrganizations: number;
}

export interface Seeded {
  /** Read by W1-W3; their data does not change during a run. */
  readers: SeededOrganization[];
  /** Written by W4 and W5. */
  writers: SeededOrganization[];
}

/** One benchmarked organization: its keys and its integrations' ids in list order (created_at, id). */
export interface SeededOrganization {
  id: string;
  slug: string;
  viewerKey: string;
  editorKey: string;
  integrationIds: string[];
}

export const PROVIDERS = ['github', 'gitlab', 'slack', 'jira', 'servicenow', 'pagerduty', 'datadog', 'http'] as const;

async function admin(serverUrl: string, text: string): Promise<void> {
  const url = new URL(serverUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await admin(serverUrl, `drop database if exists "${name}" with (force)`);
}

/**
 * Creates the database afresh, migrates it with the gateway's own migrator and fills it. Everything
 * but the API keys (random by design) is deterministic: ids are md5-derived UUIDs, times are fixed.
 * Rows are written by `INSERT ... SELECT generate_series`, so the full seed takes seconds.
 */
export async function seedDatabase(serverUrl: string, name: string, shape: SeedShape): Promise<Seeded> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid database name ${name}`);
  await dropDatabase(serverUrl, name);
  await admin(serverUrl, `create database "${name}"`);
  const pool = new pg.Pool({ connectionString: databaseUrl(serverUrl, name), max: 2 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db);
    const { organizations: O, integrationsPerOrganization: I, checksPerIntegration: C } = shape;
    await sql`
      insert into organizations (id, slug, name, created_at)
      select md5('igw-bench-org-' || o)::uuid, 'bench-' || lpad(o::text, 3, '0'), 'Bench organization ' || o,
             timestamptz '2026-01-01T00:00:00Z' + o * interval '1 minute'
      from generate_series(1, ${O}::int) o`.execute(db);
    // k spreads the states: 14 in 20 healthy, then degraded, unhealthy, needing re-authorization,
    // in error and waiting for authorization. created_at is a permutation of i (37 is coprime with
    // 100), so list order differs from insertion order.
    await sql`
      with spec as (
        select o, i, (i * 13 + o * 7) % 20 as k,
               timestamptz '2026-02-01T00:00:00Z' + ((i * 37) % ${I}::int) * interval '1 hour' + o * interval '1 second' as created
        from generate_series(1, ${O}::int) o, generate_series(1, ${I}::int) i
      ), shaped as (
        select *,
          case when k < 17 then 'ACTIVE' when k = 17 then 'NEEDS_REAUTH' when k = 18 then 'ERROR'
               else 'PENDING_AUTHORIZATION' end as status,
          case when k < 14 then 'HEALTHY' when k < 16 then 'DEGRADED' when k < 19 then 'UNHEALTHY' else 'UNKNOWN' end as health,
          case when k < 14 or k = 19 then 0 when k < 16 then 1 when k = 16 then 3 when k = 17 then 1 else 4 end as failures,
          (array[${sql.join(PROVIDERS.map((p) => sql.lit(p)))}])[1 + (i * 7 + o) % 8] as provider
        from spec
      )
      insert into integrations (
        id, organization_id, provider, display_name, environment, auth_kind, status, status_reason, health, consecutive_failures,
        last_check_at, last_check_ok, last_check_latency_ms, last_check_http_status, last_check_message,
        requested_scopes, granted_scopes, last_sync_status, last_sync_started_at, last_sync_finished_at, last_sync_error,
        created_at, updated_at)
      select md5('igw-bench-int-' || o || '-' || i)::uuid, md5('igw-bench-org-' || o)::uuid, provider,
        initcap(provider) || ' ' || (array['core', 'billing', 'platform', 'mobile', 'web', 'data'])[1 + i % 6] || ' ' || i,
        (array['production', 'staging', null])[1 + i % 3],
        'API_TOKEN', status,
        case status when 'NEEDS_REAUTH' then 'The provider rejected the credential (HTTP 401).'
                    when 'ERROR' then 'Connecting failed.'
                    when 'PENDING_AUTHORIZATION' then 'Waiting for the user to authorize at the provider.' end,
        health, failures,
        case when status = 'PENDING_AUTHORIZATION' then null else created + interval '30 days' end,
        case when status = 'PENDING_AUTHORIZATION' then null else failures = 0 end,
        case when status = 'PENDING_AUTHORIZATION' then null else 20 + (i * 17 + o * 31) % 400 end,
        case when status = 'PENDING_AUTHORIZATION' then null when failures = 0 then 200 when status = 'NEEDS_REAUTH' then 401 else 503 end,
        case when status = 'PENDING_AUTHORIZATION' then null when failures = 0 then 'ok'
             when status = 'NEEDS_REAUTH' then 'credential rejected (HTTP 401)' else 'provider unavailable (HTTP 503)' end,
        '{read,write}',
        case when status = 'PENDING_AUTHORIZATION' then null when k = 15 then '{read}'::text[] else '{read,write}'::text[] end,
        (array['SUCCEEDED', 'FAILED', 'RUNNING', null])[1 + i % 4],
        case when i % 4 = 3 then null else created + interval '29 days' end,
        case when i % 4 < 2 then created + interval '29 days 2 minutes' end,
        case when i % 4 = 1 then 'rate limited by the provider' end,
        created, created + k * interval '1 hour'
      from shaped`.execute(db);
    // The newest check of each integration is the one summarized on its row.
    await sql`
      insert into integration_health_checks (
        id, organization_id, integration_id, checked_at, ok, http_status, latency_ms, error_code, message, granted_scopes)
      select md5('igw-bench-check-' || i.id || '-' || n)::uuid, i.organization_id, i.id,
        coalesce(i.last_check_at, i.created_at) - (${C}::int - n) * interval '5 minutes',
        ok, case when ok then 200 else coalesce(i.last_check_http_status, 503) end,
        10 + (n * 37 + ('x' || substr(i.id::text, 1, 4))::bit(16)::int) % 500,
        case when ok then null when i.status = 'NEEDS_REAUTH' then 'CREDENTIAL_REJECTED' else 'PROVIDER_UNAVAILABLE' end,
        case when ok then 'ok' else coalesce(i.last_check_message, 'provider unavailable (HTTP 503)') end,
        i.granted_scopes
      from integrations i
      cross join lateral generate_series(1, ${C}::int) n
      cross join lateral (
        select (${C}::int - n) >= i.consecutive_failures and n % 9 <> 0 or n = ${C}::int and i.consecutive_failures = 0 as ok) s`.execute(
      db,
    );
    await sql`analyze`.execute(db);

    const seeded: SeededOrganization[] = [];
    const keyed = Math.min(shape.organizations, shape.benchmarkedOrganizations + shape.mutationOrganizations);
    for (let o = 1; o <= keyed; o += 1) {
      const org = await db
        .selectFrom('organizations')
        .select(['id', 'slug'])
        .where('slug', '=', `bench-${String(o).padStart(3, '0')}`)
        .executeTakeFirstOrThrow();
      const viewer = await issueApiKey(db, { organizationId: org.id, role: 'VIEWER', name: 'bench viewer' });
      const editor = await issueApiKey(db, { organizationId: org.id, role: 'EDITOR', name: 'bench editor' });
      const rows = await db
        .selectFrom('integrations')
        .select('id')
        .where('organization_id', '=', org.id)
        .where('status', '<>', 'REVOKED')
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      seeded.push({
        id: org.id,
        slug: org.slug,
        viewerKey: viewer.secret,
        editorKey: editor.secret,
        integrationIds: rows.map((row) => row.id),
      });
    }
    return { readers: seeded.slice(0, shape.benchmarkedOrganizations), writers: seeded.slice(shape.benchmarkedOrganizations) };
  } finally {
    await db.destroy();
  }
}
