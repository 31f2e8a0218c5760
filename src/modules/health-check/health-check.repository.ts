import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, HealthCheckRow } from '../../db/database.js';
import { type CursorPosition, cursorKeyShapes, type PageRequest, withCursorCheck } from '../../graphql/pagination.js';

/** One probe of an integration, as recorded in its history. */
export interface HealthCheck {
  id: string;
  organizationId: string;
  integrationId: string;
  checkedAt: Date;
  ok: boolean;
  httpStatus: number | null;
  latencyMs: number | null;
  errorCode: string | null;
  message: string | null;
  identity: Record<string, unknown> | null;
  grantedScopes: string[] | null;
  missingScopes: string[];
}

export function toHealthCheck(row: HealthCheckRow): HealthCheck {
  return {
    id: row.id,
    organizationId: row.organization_id,
    integrationId: row.integration_id,
    checkedAt: row.checked_at,
    ok: row.ok,
    httpStatus: row.http_status,
    latencyMs: row.latency_ms,
    errorCode: row.error_code,
    message: row.message,
    identity: row.identity,
    grantedScopes: row.granted_scopes,
    missingScopes: row.missing_scopes,
  };
}

/** A PostgreSQL array literal of UUIDs, which every driver passes as one text parameter. */
function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}

/** Columns a page of history may load without the rest of the row; its id, organization, integration and time always come. */
export type HealthCheckColumn = 'ok' | 'http_status' | 'latency_ms' | 'error_code' | 'message' | 'granted_scopes' | 'missing_scopes';

const ALWAYS_LOADED = ['id', 'organization_id', 'integration_id', 'checked_at'] as const;

/**
 * One page of history for each of many integrations in a single statement: newest first, each
 * integration's page limited inside a lateral subquery so a long history costs nothing extra. With
 * `columns`, only those (and the ones always loaded) are read: the checks' other fields are undefined,
 * for callers that read none of them (health-check.schema.ts).
 */
export async function listHealthCheckPages(
  db: Kysely<Database>,
  organizationId: string,
  integrationIds: readonly string[],
  page: PageRequest,
  columns: readonly HealthCheckColumn[] | null = null,
): Promise<Map<string, { item: HealthCheck; position: CursorPosition }[]>> {
  const newestFirst = page.direction === 'forward';
  const dir = sql.raw(newestFirst ? 'desc' : 'asc');
  const cursor = page.cursor;
  const keyset = cursor
    ? sql`and (h.checked_at, h.id) ${sql.raw(newestFirst ? '<' : '>')} (cast(${cursor.key} as timestamptz), cast(${cursor.id} as uuid))`
    : sql``;
  const selected = columns ? sql.join([...ALWAYS_LOADED, ...columns].map((column) => sql.ref(`h.${column}`))) : sql`h.*`;
  const result = await withCursorCheck(
    page,
    () =>
      sql<HealthCheckRow & { sort_key: string }>`
    select page.* from unnest(cast(${uuidArray(integrationIds)} as uuid[])) as wanted(id)
    cross join lateral (
      select ${selected}, h.checked_at::text as sort_key
      from integration_health_checks h
      where h.organization_id = ${organizationId} and h.integration_id = wanted.id ${keyset}
      order by h.checked_at ${dir}, h.id ${dir}
      limit ${page.limit + 1}
    ) page
    order by page.integration_id, page.checked_at ${dir}, page.id ${dir}`.execute(db),
    cursorKeyShapes.timestamp,
  );
  const byIntegration = new Map<string, { item: HealthCheck; position: CursorPosition }[]>();
  // toHealthCheck reads the columns by name: the row is not copied to leave sort_key out.
  for (const row of result.rows) {
    const entry = { item: toHealthCheck(row), position: { key: row.sort_key, id: row.id } };
    const list = byIntegration.get(row.integration_id);
    if (list) list.push(entry);
    else byIntegration.set(row.integration_id, [entry]);
  }
  return byIntegration;
}

export async function findHealthChecksByIds(db: Kysely<Database>, organizationId: string, ids: readonly string[]): Promise<HealthCheck[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('integration_health_checks')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', 'in', ids)
    .execute();
  return rows.map(toHealthCheck);
}

/** A probe to record, as health-recording.ts builds it from the outcome. */
/** A probe to record: the history's row without what the database gives it. */
export type NewHealthCheck = Omit<HealthCheck, 'id' | 'checkedAt'>;

/** Appends a probe to an integration's history, inside the transaction that records its outcome. */
export async function insertHealthCheckRow(trx: Transaction<Database>, check: NewHealthCheck): Promise<HealthCheck> {
  const row = await trx
    .insertInto('integration_health_checks')
    .values({
      organization_id: check.organizationId,
      integration_id: check.integrationId,
      ok: check.ok,
      http_status: check.httpStatus,
      latency_ms: check.latencyMs,
      error_code: check.errorCode,
      message: check.message,
      identity: check.identity === null ? null : JSON.stringify(check.identity),
      granted_scopes: check.grantedScopes,
      missing_scopes: check.missingScopes,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toHealthCheck(row);
}
