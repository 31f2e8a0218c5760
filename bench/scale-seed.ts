import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { issueApiKey } from '../src/modules/api-key/api-key.service.js';
import { databaseUrl, dropDatabase, PROVIDERS } from './seed.js';

/** The organizations `--scale` measures: the large one, and a small one to compare its pages with. */
export interface ScaleSeeded {
  large: { id: string; key: string; rows: number };
  small: { id: string; key: string; rows: number };
  organizations: number;
  total: number;
}

/** Integrations of the small organization, whose pages the large one's are compared with. */
export const SMALL_ROWS = 1_000;
/** The rest of the rows go to organizations of this many integrations each. */
const OTHER_ORGANIZATION_ROWS = 10_000;

/**
 * Search terms by about how many of an organization's integrations they match (see the display names
 * below): every sixth, one in a hundred, one in ten thousand, one, none. The harness counts the exact
 * matches in SQL.
 */
/** A number in the middle of the organization whose integration is not revoked (every 50th from the 25th is). */
const oneRow = (rows: number) => (Math.floor(rows / 2) % 50 === 25 ? Math.floor(rows / 2) + 1 : Math.max(1, Math.floor(rows / 2)));

export function searchTerms(largeRows: number): { label: string; term: string }[] {
  return [
    { label: 'common (1 in 6)', term: 'billing' },
    { label: '1 in 100', term: 'kiwi' },
    { label: '1 in 10,000', term: 'quartz' },
    { label: 'one row', term: `#${oneRow(largeRows)}#` },
    { label: 'none', term: 'zyxwv' },
  ];
}

/**
 * `--scale`: `total` integrations in a database of their own: one organization with half of them, one
 * with SMALL_ROWS, the rest in organizations of OTHER_ORGANIZATION_ROWS. Written by `INSERT ... SELECT
 * generate_series` in one statement per organization kind, then VACUUM ANALYZE, as a database that has
 * been running a while has its statistics and visibility map.
 */
export async function seedScaleDatabase(serverUrl: string, name: string, total: number): Promise<ScaleSeeded> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid database name ${name}`);
  const largeRows = Math.floor(total / 2);
  const rest = Math.max(0, total - largeRows - SMALL_ROWS);
  const others = Math.ceil(rest / OTHER_ORGANIZATION_ROWS);
  await dropDatabase(serverUrl, name);
  const admin = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`create database "${name}"`).finally(() => admin.end());
  const pool = new pg.Pool({ connectionString: databaseUrl(serverUrl, name), max: 2 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db);
    // Organization 1 is the large one, 2 the small one, 3.. the others.
    await sql`
      insert into organizations (id, slug, name, created_at)
      select md5('igw-scale-org-' || o)::uuid, 'scale-' || o, 'Scale organization ' || o, timestamptz '2026-01-01T00:00:00Z'
      from generate_series(1, ${2 + others}::int) o`.execute(db);
    // (o, i): organization and number within it. Display names carry the search terms at known rates.
    const insert = (from: number, to: number, rows: number) => sql`
      insert into integrations (id, organization_id, provider, display_name, environment, auth_kind, status, health,
        consecutive_failures, requested_scopes, created_at, updated_at)
      select md5('igw-scale-int-' || o || '-' || i)::uuid, md5('igw-scale-org-' || o)::uuid,
        (array[${sql.join(PROVIDERS.map((p) => sql.lit(p)))}])[1 + i % 8],
        initcap((array[${sql.join(PROVIDERS.map((p) => sql.lit(p)))}])[1 + i % 8]) || ' '
          || (array['core', 'billing', 'platform', 'mobile', 'web', 'data'])[1 + i % 6]
          || case when i % 100 = 0 then ' kiwi' else '' end
          || case when i % 10000 = 0 then ' quartz' else '' end
          || ' #' || i || '#',
        (array['production', 'staging', null])[1 + i % 3], 'API_TOKEN',
        case when i % 50 = 25 then 'REVOKED' else 'ACTIVE' end, 'HEALTHY', 0, '{read}',
        timestamptz '2026-02-01T00:00:00Z' + ((i::bigint * 7919) % 1000003) * interval '1 second',
        timestamptz '2026-03-01T00:00:00Z' + i * interval '1 second'
      from generate_series(${from}::int, ${to}::int) o, generate_series(1, ${rows}::int) i`;
    await insert(1, 1, largeRows).execute(db);
    await insert(2, 2, SMALL_ROWS).execute(db);
    if (others > 0) await insert(3, 2 + others, OTHER_ORGANIZATION_ROWS).execute(db);
    await sql`vacuum analyze integrations`.execute(db);
    const organization = async (o: number) => {
      const id = (await sql<{ id: string }>`select md5(${`igw-scale-org-${o}`})::uuid as id`.execute(db)).rows[0]?.id as string;
      const key = await issueApiKey(db, { organizationId: id, role: 'VIEWER', name: 'scale viewer' });
      const rows = await db
        .selectFrom('integrations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('organization_id', '=', id)
        .where('status', '<>', 'REVOKED')
        .executeTakeFirstOrThrow();
      return { id, key: key.secret, rows: Number(rows.n) };
    };
    return {
      large: await organization(1),
      small: await organization(2),
      organizations: 2 + others,
      total: largeRows + SMALL_ROWS + others * OTHER_ORGANIZATION_ROWS,
    };
  } finally {
    await db.destroy();
  }
}
