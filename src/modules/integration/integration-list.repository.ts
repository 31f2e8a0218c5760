import { CompiledQuery, type Kysely, type RawBuilder, type SelectQueryBuilder, sql } from 'kysely';
import { type Built, builtValues, CompiledQueryCache, type OneParameter, one } from '../../db/compiled-query-cache.js';
import type { Database, IntegrationHealth, IntegrationRow, IntegrationStatus } from '../../db/database.js';
import { PLAN_WITH_VALUES } from '../../db/prepared-statements.js';
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

/**
 * A search with at most this many matches is paged from their ids: the trigram index
 * (migrations/*_integration-search-index.ts) finds them whatever the organization's size, and ordering
 * that few rows is cheap. With more matches, walking the order's index until a page has matched is
 * the quicker way, and the search is kept off the trigram index so that the planner takes that path.
 */
export const SEARCH_CANDIDATE_LIMIT = 2_000;

/** `totalCount` counts exactly up to this many matches; beyond it, the planner's estimate (see `countIntegrations`). */
export const EXACT_COUNT_LIMIT = 10_000;

/** A filter's values as its statements bind them: absent parts null, the search as its ILIKE pattern. */
export interface FilterValues {
  organizationId: string;
  statuses: readonly IntegrationStatus[] | null;
  providers: readonly string[] | null;
  healths: readonly IntegrationHealth[] | null;
  environment: string | null;
  /** `%search%`, its wildcards escaped. */
  pattern: string | null;
  endUserId: string | null;
}

export function filterValues(organizationId: string, filter: IntegrationFilter, search = filter.search): FilterValues {
  return {
    organizationId,
    statuses: filter.statuses && filter.statuses.length > 0 ? filter.statuses : null,
    providers: filter.providers && filter.providers.length > 0 ? filter.providers : null,
    healths: filter.healths && filter.healths.length > 0 ? filter.healths : null,
    environment: filter.environment ?? null,
    pattern: search ? `%${escapeLike(search)}%` : null,
    endUserId: filter.endUserId ?? null,
  };
}

/**
 * The statements of a page, a search's candidates and a count are compiled once per shape
 * (compiled-query-cache.ts): the orders, directions, column sets and which filters are present make a
 * few hundred shapes at most.
 */
export const statements = new CompiledQueryCache(1_000);

function applyFilter<O>(
  query: SelectQueryBuilder<Database, 'integrations', O>,
  values: Built<FilterValues>,
  search: { useIndex: boolean } = { useIndex: true },
): SelectQueryBuilder<Database, 'integrations', O> {
  let q = query.where('integrations.organization_id', '=', values.organizationId);
  if (values.statuses) q = q.where('integrations.status', 'in', values.statuses);
  else q = q.where('integrations.status', '<>', 'REVOKED');
  if (values.providers) q = q.where('integrations.provider', 'in', values.providers);
  if (values.healths) q = q.where('integrations.health', 'in', values.healths);
  if (values.environment !== null) q = q.where('integrations.environment', '=', values.environment);
  if (values.pattern !== null) {
    // An expression over the column, which the trigram index is not built on: the same rows, no index.
    q = search.useIndex
      ? q.where('integrations.display_name', 'ilike', values.pattern)
      : q.where(sql<boolean>`(integrations.display_name || '') ilike ${values.pattern}`);
  }
  if (values.endUserId !== null) q = q.where('integrations.end_user_id', '=', values.endUserId);
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
  | 'requested_scopes'
  | 'granted_scopes'
  | 'created_at'
  | 'updated_at';

export interface ListedIntegration {
  item: Integration;
  position: CursorPosition;
}

/** What decides a page statement's text besides its values. */
export interface PageShape {
  orderBy: IntegrationOrderField;
  /** The direction the statement walks the order in. */
  ascending: boolean;
  /** The columns loaded besides id and organization, or null for whole rows. */
  columns: readonly ListColumn[] | null;
  /** A search with more matches than SEARCH_CANDIDATE_LIMIT: the order's index is walked, the search applied outside. */
  commonSearch: boolean;
}

/** The values of a page statement (see `pageQuery`). */
export interface PageValues extends FilterValues {
  /** The matches of a search with at most SEARCH_CANDIDATE_LIMIT of them, as one array parameter. */
  candidates: OneParameter<readonly string[]> | null;
  /** The common search's pattern, applied outside the ordered walk. */
  commonPattern: string | null;
  cursorKey: string | null;
  cursorId: string | null;
  /** The page's size plus one, to tell whether more rows exist. */
  limit: number;
}

/** The statement of one page: built from placeholders once per shape, or from the values themselves. */
export function pageQuery(db: Kysely<Database>, shape: PageShape, values: Built<PageValues>) {
  const { expression, type } = ORDER_KEYS[shape.orderBy];
  const dir = sql.raw(shape.ascending ? 'asc' : 'desc');
  let filtered = applyFilter(db.selectFrom('integrations'), values, { useIndex: false });
  if (values.candidates !== null) filtered = filtered.where('integrations.id', '=', sql<string>`any(${values.candidates}::uuid[])`);
  const op = sql.raw(shape.ascending ? '>' : '<');
  const after =
    values.cursorKey !== null
      ? sql<boolean>`(${expression}, integrations.id) ${op} (cast(${values.cursorKey} as ${type}), cast(${values.cursorId} as uuid))`
      : null;
  if (shape.commonSearch) {
    // The organization's rows in order, fenced by `offset 0` so that the search stays outside: the
    // planner walks the order's index and stops once a page has matched, instead of reading every
    // match to sort them.
    const ordered = (after ? filtered.where(after) : filtered)
      .selectAll('integrations')
      .select(sql<unknown>`${expression}`.as('order_key'))
      .orderBy(sql`${expression} ${dir}`)
      .orderBy(sql`integrations.id ${dir}`)
      .offset(0);
    return db
      .selectFrom(ordered.as('integrations'))
      .selectAll('integrations')
      .select(sql<string>`(integrations.order_key)::text`.as('key'))
      .where(sql<boolean>`integrations.display_name ilike ${values.commonPattern}`)
      .orderBy(sql`integrations.order_key ${dir}`)
      .orderBy(sql`integrations.id ${dir}`)
      .limit(values.limit);
  }
  const some = shape.columns;
  // Typed as whole rows either way: the columns not loaded are undefined.
  const query = (
    some
      ? (filtered.select([
          'integrations.id',
          'integrations.organization_id',
          ...some.map((column) => `integrations.${column}` as const),
        ]) as unknown as ReturnType<typeof filtered.selectAll<'integrations'>>)
      : filtered.selectAll('integrations')
  ).select(sql<string>`(${expression})::text`.as('key'));
  return (after ? query.where(after) : query).orderBy(sql`${expression} ${dir}`).orderBy(sql`integrations.id ${dir}`).limit(values.limit);
}

const columnSetNames = new WeakMap<readonly ListColumn[], string>();

/** A column set's part of a statement's shape key (one array per GraphQL document, named once); `*` for whole rows. */
export function columnSetName(columns: readonly ListColumn[] | null): string {
  if (!columns) return '*';
  let name = columnSetNames.get(columns);
  if (name === undefined) {
    name = columns.join(',');
    columnSetNames.set(columns, name);
  }
  return name;
}

/** The shape key of a page statement. */
export function pageShapeKey(shape: PageShape): string {
  const columns = columnSetName(shape.columns);
  return `page:${shape.orderBy}:${shape.ascending ? 'asc' : 'desc'}:${shape.commonSearch ? 'common' : 'indexed'}:${columns}`;
}

/** The options of a page. */
export interface PageOptions {
  filter: IntegrationFilter;
  orderBy: IntegrationOrderField;
  direction: SortDirection;
  page: PageRequest;
  /** The columns the selected fields read (besides id and organization), or all of them. */
  columns?: readonly ListColumn[] | 'all';
}

/** A page's statement: its shape and values, given a search's candidates (null: no search, or a common one). */
export function pageStatement(
  organizationId: string,
  options: PageOptions,
  candidates: readonly string[] | null,
): { shape: PageShape; values: PageValues } {
  // Paging backwards walks the order in reverse; the caller restores it.
  const ascending = (options.direction === 'ASC') !== (options.page.direction === 'backward');
  const commonSearch = options.filter.search && !candidates ? options.filter.search : null;
  const cursor = options.page.cursor;
  const shape: PageShape = {
    orderBy: options.orderBy,
    ascending,
    columns: commonSearch || !options.columns || options.columns === 'all' ? null : options.columns,
    commonSearch: commonSearch !== null,
  };
  const values: PageValues = {
    ...filterValues(organizationId, options.filter, commonSearch ? null : options.filter.search),
    candidates: candidates ? one(candidates) : null,
    commonPattern: commonSearch ? `%${escapeLike(commonSearch)}%` : null,
    cursorKey: cursor ? cursor.key : null,
    cursorId: cursor ? cursor.id : null,
    limit: options.page.limit + 1,
  };
  return { shape, values };
}

/** One page in paging order, with one row beyond the limit when more exist. */
export async function listIntegrationPage(
  db: Kysely<Database>,
  organizationId: string,
  options: PageOptions,
): Promise<ListedIntegration[]> {
  const { keyShape } = ORDER_KEYS[options.orderBy];
  // A search first asks the trigram index for its matches' ids, up to SEARCH_CANDIDATE_LIMIT: a page of
  // a rare term is then read by id; a common term's by the order's index, the search as a filter.
  const candidates = options.filter.search ? await searchCandidates(db, organizationId, options.filter) : null;
  if (candidates?.length === 0) return withCursorCheck(options.page, async () => [], keyShape);
  const { shape, values } = pageStatement(organizationId, options, candidates);
  const compiled = statements.compile(db, pageShapeKey(shape), values, (built) => pageQuery(db, shape, built));
  const rows = await withCursorCheck(
    options.page,
    async () => (await db.executeQuery<IntegrationRow & CursorPosition>(compiled)).rows,
    keyShape,
  );
  // Straight from the driver's row, partial or whole: toIntegration reads a column not loaded as undefined,
  // and no field selected on the page reads one (integration.selection.ts). No rest destructuring either:
  // copying every row costs more than the extra key property. The row, with its sort key selected as
  // `key` beside its `id`, is the edge's cursor position itself.
  return rows.map((row) => ({ item: toIntegration(row), position: row }));
}

/**
 * The statement that takes a search's matches, one beyond SEARCH_CANDIDATE_LIMIT, and answers one row:
 * their ids as one array when there are at most SEARCH_CANDIDATE_LIMIT, else null. A common term's
 * 2,001 ids are counted in PostgreSQL, not sent and parsed to be dropped (about 5 ms of a page).
 */
export function candidatesQuery(db: Kysely<Database>, values: Built<FilterValues>) {
  const matches = applyFilter(db.selectFrom('integrations'), values)
    .select('integrations.id')
    .limit(SEARCH_CANDIDATE_LIMIT + 1);
  return (
    db
      .selectFrom(matches.as('matches'))
      .select(
        sql<string[] | null>`case when count(*) <= ${sql.lit(SEARCH_CANDIDATE_LIMIT)} then coalesce(array_agg(matches.id), '{}') end`.as(
          'ids',
        ),
      )
      // Planned for its term: a scan that stops at enough matches for a common one, the trigram index for a rare one.
      .modifyEnd(sql.raw(PLAN_WITH_VALUES))
  );
}

/** The ids of a search's matches when there are at most SEARCH_CANDIDATE_LIMIT of them; null when more. */
async function searchCandidates(db: Kysely<Database>, organizationId: string, filter: IntegrationFilter): Promise<string[] | null> {
  const compiled = statements.compile(db, 'candidates', filterValues(organizationId, filter), (built) => candidatesQuery(db, built));
  // An aggregate without grouping: always one row.
  const row = (await db.executeQuery<{ ids: string[] | null }>(compiled)).rows[0] as { ids: string[] | null };
  return row.ids;
}

/** The statement that counts a filter's matches, up to one beyond EXACT_COUNT_LIMIT. */
export function countQuery(db: Kysely<Database>, values: Built<FilterValues>) {
  const capped = applyFilter(db.selectFrom('integrations'), values)
    .select(sql<number>`1`.as('one'))
    .limit(EXACT_COUNT_LIMIT + 1);
  const count = db.selectFrom(capped.as('matches')).select(sql<number>`count(*)::integer`.as('count'));
  // A search's count is planned for its term, as its candidates are (candidatesQuery).
  return values.pattern === null ? count : count.modifyEnd(sql.raw(PLAN_WITH_VALUES));
}

/**
 * How many integrations match: exact up to EXACT_COUNT_LIMIT, counted no further (a count reads every
 * match, hundreds of milliseconds for an organization of half a million); beyond it, PostgreSQL's
 * estimate of the filtered query's rows from its statistics, never below EXACT_COUNT_LIMIT + 1.
 */
export async function countIntegrations(db: Kysely<Database>, organizationId: string, filter: IntegrationFilter): Promise<number> {
  const values = filterValues(organizationId, filter);
  const compiled = statements.compile(db, 'count', values, (built) => countQuery(db, built));
  // count(*) without grouping: always one row.
  const row = (await db.executeQuery<{ count: number }>(compiled)).rows[0] as { count: number };
  if (row.count <= EXACT_COUNT_LIMIT) return row.count;
  const query = applyFilter(db.selectFrom('integrations'), builtValues(values)).select(sql<number>`1`.as('one')).compile();
  const plan = await db
    .executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${query.sql}`, [...query.parameters]))
    .catch(() => null);
  return Math.max(EXACT_COUNT_LIMIT + 1, Math.round(estimatedRows(plan?.rows[0]?.['QUERY PLAN']) ?? 0));
}

/** "Plan Rows" of EXPLAIN (FORMAT JSON)'s top node; PostgreSQL returns the plan as JSON or as its text. */
function estimatedRows(plan: unknown): number | null {
  const parsed = typeof plan === 'string' ? (JSON.parse(plan) as unknown) : plan;
  const rows = (parsed as [{ Plan?: { 'Plan Rows'?: unknown } }] | undefined)?.[0]?.Plan?.['Plan Rows'];
  return typeof rows === 'number' ? rows : null;
}
