import { type Kysely, sql } from 'kysely';
import type { Database, ResourceRow, SyncRunRow } from '../../db/database.js';
import { type CursorPosition, cursorKeyShapes, type PageRequest, withCursorCheck } from '../../graphql/pagination.js';
import { type Resource, type SyncRun, toResource, toSyncRun } from './inventory.model.js';

// Pages of resources and of sync runs for many integrations at once, one statement each: every
// integration's page is limited inside a lateral subquery, as the health-check history is.

/** A PostgreSQL array literal of UUIDs, which every driver passes as one text parameter. */
const uuidArray = (ids: readonly string[]) => `{${ids.join(',')}}`;

type Paged<T> = Map<string, { item: T; position: CursorPosition }[]>;

function byIntegration<R extends { integration_id: string; id: string; sort_key: string }, T>(
  rows: readonly R[],
  convert: (row: R) => T,
): Paged<T> {
  const pages: Paged<T> = new Map();
  for (const row of rows) {
    const list = pages.get(row.integration_id) ?? [];
    list.push({ item: convert(row), position: { key: row.sort_key, id: row.id } });
    pages.set(row.integration_id, list);
  }
  return pages;
}

/** Which resources a page lists: all of them, or those of a kind, or whose name holds a text (case-insensitive). */
export interface ResourceFilter {
  kind?: string | null | undefined;
  search?: string | null | undefined;
}

/** A page of resources per integration, by name. */
export async function listResourcePages(
  db: Kysely<Database>,
  organizationId: string,
  integrationIds: readonly string[],
  page: PageRequest,
  filter: ResourceFilter,
): Promise<Paged<Resource>> {
  const forward = page.direction === 'forward';
  const dir = sql.raw(forward ? 'asc' : 'desc');
  const cursor = page.cursor;
  const keyset = cursor ? sql`and (r.name, r.id) ${sql.raw(forward ? '>' : '<')} (${cursor.key}::text, ${cursor.id}::uuid)` : sql``;
  const kind = filter.kind ? sql`and r.kind = ${filter.kind}` : sql``;
  const search = filter.search ? sql`and r.name ilike ${`%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}` : sql``;
  const result = await withCursorCheck(
    page,
    () =>
      sql<ResourceRow & { sort_key: string }>`
    select page.* from unnest(cast(${uuidArray(integrationIds)} as uuid[])) as wanted(id)
    cross join lateral (
      select r.*, r.name as sort_key from integration_resources r
      where r.organization_id = ${organizationId} and r.integration_id = wanted.id ${kind} ${search} ${keyset}
      order by r.name ${dir}, r.id ${dir}
      limit ${page.limit + 1}
    ) page
    order by page.integration_id, page.name ${dir}, page.id ${dir}`.execute(db),
    cursorKeyShapes.text,
  );
  return byIntegration(result.rows, toResource);
}

/** A page of sync runs per integration, newest first. */
export async function listSyncRunPages(
  db: Kysely<Database>,
  organizationId: string,
  integrationIds: readonly string[],
  page: PageRequest,
): Promise<Paged<SyncRun>> {
  const newestFirst = page.direction === 'forward';
  const dir = sql.raw(newestFirst ? 'desc' : 'asc');
  const cursor = page.cursor;
  const keyset = cursor
    ? sql`and (s.queued_at, s.id) ${sql.raw(newestFirst ? '<' : '>')} (cast(${cursor.key} as timestamptz), cast(${cursor.id} as uuid))`
    : sql``;
  const result = await withCursorCheck(
    page,
    () =>
      sql<SyncRunRow & { sort_key: string }>`
    select page.* from unnest(cast(${uuidArray(integrationIds)} as uuid[])) as wanted(id)
    cross join lateral (
      select s.*, s.queued_at::text as sort_key from integration_sync_runs s
      where s.organization_id = ${organizationId} and s.integration_id = wanted.id ${keyset}
      order by s.queued_at ${dir}, s.id ${dir}
      limit ${page.limit + 1}
    ) page
    order by page.integration_id, page.queued_at ${dir}, page.id ${dir}`.execute(db),
    cursorKeyShapes.timestamp,
  );
  return byIntegration(result.rows, toSyncRun);
}
