import { type Kysely, type RawBuilder, type SelectQueryBuilder, sql } from 'kysely';
import type { Database, IntegrationHealth, IntegrationStatus } from '../../db/database.js';
import { type CursorPosition, cursorKeyShapes, type PageRequest, withCursorCheck } from '../../graphql/pagination.js';
import { type Integration, toIntegration } from './integration.model.js';

export type IntegrationOrderField = 'CREATED_AT' | 'UPDATED_AT' | 'DISPLAY_NAME' | 'LAST_CHECKED_AT';
export type SortDirection = 'ASC' | 'DESC';

export interface IntegrationFilter {
  providers?: readonly string[] | null | undefined;
  statuses?: readonly IntegrationStatus[] | null | undefined;
  healths?: readonly IntegrationHealth[] | null | undefined;
  environment?: string | null | undefined;
  search?: string | null | undefined;
  /** The end user a connect session connected the integration for. */
  endUserId?: string | null | undefined;
}

/** Each order's key is an expression the matching index is built on, so keyset pages are index scans. */
const ORDER_KEYS: Record<
  IntegrationOrderField,
  { expression: RawBuilder<unknown>; type: RawBuilder<unknown>; keyShape: (key: string) => boolean }
> = {
  CREATED_AT: { expression: sql`integrations.created_at`, type: sql`timestamptz`, keyShape: cursorKeyShapes.timestamp },
  UPDATED_AT: { expression: sql`integrations.updated_at`, type: sql`timestamptz`, keyShape: cursorKeyShapes.timestamp },
  DISPLAY_NAME: { expression: sql`lower(integrations.display_name)`, type: sql`text`, keyShape: cursorKeyShapes.text },
  LAST_CHECKED_AT: {
    expression: sql`coalesce(integrations.last_check_at, '-infinity'::timestamptz)`,
    type: sql`timestamptz`,
    keyShape: cursorKeyShapes.timestampOrMinusInfinity,
  },
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
  if (filter.endUserId != null) q = q.where('integrations.end_user_id', '=', filter.endUserId);
  return q;
}

/** Columns a page may load without the rest of the row (see integration.selection.ts). */
export type ListColumn =
  | 'provider'
  | 'display_name'
  | 'environment'
  | 'auth_kind'
  | 'status'
  | 'status_reason'
  | 'health'
  | 'last_check_at'
  | 'last_check_ok'
  | 'last_check_latency_ms'
  | 'last_check_http_status'
  | 'last_check_message'
  | 'last_sync_status'
  | 'last_sync_started_at'
  | 'last_sync_finished_at'
  | 'last_sync_error'
  | 'last_sync_item_count'
  | 'revoked_at'
  | 'end_user_id'
  | 'end_user_display_name'
  | 'end_user_email'
  | 'created_at'
  | 'updated_at';

export interface ListedIntegration {
  item: Integration;
  position: CursorPosition;
}

/** One page in paging order, with one row beyond the limit when more exist. */
export async function listIntegrationPage(
  db: Kysely<Database>,
  organizationId: string,
  options: {
    filter: IntegrationFilter;
    orderBy: IntegrationOrderField;
    direction: SortDirection;
    page: PageRequest;
    /** The columns the selected fields read (besides id and organization), or all of them. */
    columns?: readonly ListColumn[] | 'all';
  },
): Promise<ListedIntegration[]> {
  const { expression, type, keyShape } = ORDER_KEYS[options.orderBy];
  // Paging backwards walks the order in reverse; the caller restores it.
  const ascending = (options.direction === 'ASC') !== (options.page.direction === 'backward');
  const dir = sql.raw(ascending ? 'asc' : 'desc');
  const filtered = applyFilter(db.selectFrom('integrations'), organizationId, options.filter);
  const some = options.columns && options.columns !== 'all' ? options.columns : null;
  // Typed as whole rows either way: the columns not loaded are undefined.
  let query = (
    some
      ? (filtered.select([
          'integrations.id',
          'integrations.organization_id',
          ...some.map((column) => `integrations.${column}` as const),
        ]) as unknown as ReturnType<typeof filtered.selectAll<'integrations'>>)
      : filtered.selectAll('integrations')
  ).select(sql<string>`(${expression})::text`.as('sort_key'));
  const cursor = options.page.cursor;
  if (cursor) {
    const op = sql.raw(ascending ? '>' : '<');
    query = query.where(sql<boolean>`(${expression}, integrations.id) ${op} (cast(${cursor.key} as ${type}), cast(${cursor.id} as uuid))`);
  }
  const rows = await withCursorCheck(
    options.page,
    () =>
      query
        .orderBy(sql`${expression} ${dir}`)
        .orderBy(sql`integrations.id ${dir}`)
        .limit(options.page.limit + 1)
        .execute(),
    keyShape,
  );
  // Straight from the driver's row, partial or whole: toIntegration reads a column not loaded as undefined,
  // and no field selected on the page reads one (integration.selection.ts). No rest destructuring either:
  // copying every row costs more than the extra sort_key property.
  return rows.map((row) => ({ item: toIntegration(row), position: { key: row.sort_key, id: row.id } }));
}

export async function countIntegrations(db: Kysely<Database>, organizationId: string, filter: IntegrationFilter): Promise<number> {
  const row = await applyFilter(db.selectFrom('integrations'), organizationId, filter)
    .select(sql<number>`count(*)::integer`.as('count'))
    .executeTakeFirstOrThrow();
  return row.count;
}
