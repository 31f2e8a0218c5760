import { type Kysely, type RawBuilder, type SelectQueryBuilder, sql } from 'kysely';
import type { Database, IntegrationHealth, IntegrationStatus } from '../../db/database.js';
import { type CursorPosition, type PageRequest, withCursorCheck } from '../../graphql/pagination.js';
import { type Integration, toIntegration } from './integration.model.js';

export type IntegrationOrderField = 'CREATED_AT' | 'UPDATED_AT' | 'DISPLAY_NAME' | 'LAST_CHECKED_AT';
export type SortDirection = 'ASC' | 'DESC';

export interface IntegrationFilter {
  providers?: readonly string[] | null | undefined;
  statuses?: readonly IntegrationStatus[] | null | undefined;
  healths?: readonly IntegrationHealth[] | null | undefined;
  environment?: string | null | undefined;
  search?: string | null | undefined;
}

/** Each order's key is an expression the matching index is built on, so keyset pages are index scans. */
const ORDER_KEYS: Record<IntegrationOrderField, { expression: RawBuilder<unknown>; type: RawBuilder<unknown> }> = {
  CREATED_AT: { expression: sql`integrations.created_at`, type: sql`timestamptz` },
  UPDATED_AT: { expression: sql`integrations.updated_at`, type: sql`timestamptz` },
  DISPLAY_NAME: { expression: sql`lower(integrations.display_name)`, type: sql`text` },
  LAST_CHECKED_AT: { expression: sql`coalesce(integrations.last_check_at, '-infinity'::timestamptz)`, type: sql`timestamptz` },
};

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function applyFilter<O>(
  query: SelectQueryBuilder<Database, 'integrations', O>,
  organizationId: string,
  filter: IntegrationFilter,
): SelectQueryBuilder<Database, 'integrations', O> {
  let q = query.where('integrations.organization_id', '=', organizationId);
  if (filter.statuses && filter.statuses.length > 0) q = q.where('integrations.status', 'in', filter.statuses);
  else q = q.where('integrations.status', '<>', 'REVOKED');
  if (filter.providers && filter.providers.length > 0) q = q.where('integrations.provider', 'in', filter.providers);
  if (filter.healths && filter.healths.length > 0) q = q.where('integrations.health', 'in', filter.healths);
  if (filter.environment != null) q = q.where('integrations.environment', '=', filter.environment);
  if (filter.search) q = q.where('integrations.display_name', 'ilike', `%${escapeLike(filter.search)}%`);
  return q;
}

export interface ListedIntegration {
  item: Integration;
  position: CursorPosition;
}

/** One page in paging order, with one row beyond the limit when more exist. */
export async function listIntegrationPage(
  db: Kysely<Database>,
  organizationId: string,
  options: { filter: IntegrationFilter; orderBy: IntegrationOrderField; direction: SortDirection; page: PageRequest },
): Promise<ListedIntegration[]> {
  const { expression, type } = ORDER_KEYS[options.orderBy];
  // Paging backwards walks the order in reverse; the caller restores it.
  const ascending = (options.direction === 'ASC') !== (options.page.direction === 'backward');
  const dir = sql.raw(ascending ? 'asc' : 'desc');
  let query = applyFilter(db.selectFrom('integrations'), organizationId, options.filter)
    .selectAll('integrations')
    .select(sql<string>`(${expression})::text`.as('sort_key'));
  const cursor = options.page.cursor;
  if (cursor) {
    const op = sql.raw(ascending ? '>' : '<');
    query = query.where(sql<boolean>`(${expression}, integrations.id) ${op} (cast(${cursor.key} as ${type}), cast(${cursor.id} as uuid))`);
  }
  const rows = await withCursorCheck(options.page, () =>
    query
      .orderBy(sql`${expression} ${dir}`)
      .orderBy(sql`integrations.id ${dir}`)
      .limit(options.page.limit + 1)
      .execute(),
  );
  return rows.map(({ sort_key, ...row }) => ({ item: toIntegration(row), position: { key: sort_key, id: row.id } }));
}

export async function countIntegrations(db: Kysely<Database>, organizationId: string, filter: IntegrationFilter): Promise<number> {
  const row = await applyFilter(db.selectFrom('integrations'), organizationId, filter)
    .select(sql<number>`count(*)::integer`.as('count'))
    .executeTakeFirstOrThrow();
  return row.count;
}

/** Integrations by id, confined to one organization inside the statement itself. */
export async function findIntegrationsByIds(
  db: Kysely<Database>,
  organizationId: string,
  ids: readonly string[],
): Promise<Integration[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('integrations')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', 'in', ids)
    .execute();
  return rows.map(toIntegration);
}

