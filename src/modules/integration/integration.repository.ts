import { type Kysely, sql, type Transaction } from 'kysely';
import { CompiledQueryCache } from '../../db/compiled-query-cache.js';
import type { Database, IntegrationRow, IntegrationUpdate, NewIntegrationRow } from '../../db/database.js';
import { columnSetName, type ListColumn } from './integration-list.repository.js';
import { type Integration, toIntegration } from './integration.model.js';

// The integrations table, row by row. Services work on rows inside their transactions (locks, patches,
// sealed secrets) and hand out only `Integration`s, made by `toIntegration`; pages of integrations are in
// integration-list.repository.ts.

type Db = Kysely<Database> | Transaction<Database>;

/** Inserts a new integration and returns it as stored (defaults and generated id filled in). */
export async function insertIntegrationRow(trx: Db, values: NewIntegrationRow): Promise<IntegrationRow> {
  return trx.insertInto('integrations').values(values).returningAll().executeTakeFirstOrThrow();
}

/** Reads an integration of the organization and locks its row until the transaction ends. */
export async function lockIntegrationRow(
  trx: Transaction<Database>,
  organizationId: string,
  id: string,
): Promise<IntegrationRow | undefined> {
  return trx
    .selectFrom('integrations')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/** Reads an integration of the organization, without a lock. */
export async function findIntegrationRow(db: Db, organizationId: string, id: string): Promise<IntegrationRow | undefined> {
  return db.selectFrom('integrations').selectAll().where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
}

/** Updates a row, bumping its version and update time; the caller holds the row lock. */
export async function updateIntegrationRow(trx: Db, id: string, patch: IntegrationUpdate): Promise<IntegrationRow> {
  return trx
    .updateTable('integrations')
    .set({ ...patch, row_version: sql<number>`row_version + 1`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Writes bookkeeping columns (a lease, a refresh's start record) without bumping the row's version or
 * update time: they are not a change of the integration. With `leaseOwner`, only while that attempt
 * still holds the lease.
 */
export async function updateBookkeeping(db: Db, id: string, patch: IntegrationUpdate, leaseOwner?: string): Promise<void> {
  let query = db.updateTable('integrations').set(patch).where('id', '=', id);
  if (leaseOwner !== undefined) query = query.where('lease_owner', '=', leaseOwner);
  await query.execute();
}

/** The statement of `findIntegrationsByIds`, from its values or (once per number of ids) from placeholders. */
export function byIdsQuery(
  db: Kysely<Database>,
  values: { organizationId: string; ids: readonly string[] },
  columns: readonly ListColumn[] | null = null,
) {
  const from = db.selectFrom('integrations');
  // Typed as whole rows either way: the columns not loaded are undefined.
  const selected = columns
    ? (from.select(['id', 'organization_id', ...columns]) as unknown as ReturnType<typeof from.selectAll>)
    : from.selectAll();
  return selected.where('organization_id', '=', values.organizationId).where('id', 'in', values.ids);
}

/** One shape per number of ids and column set: a node, a batch of `nodes` or of a request's loader. */
const byIds = new CompiledQueryCache(500);

/**
 * Integrations by id, confined to one organization inside the statement itself. With `columns`, only
 * those (besides id and organization) are loaded, and the others are undefined: for a caller that reads
 * no other (see integration.selection.ts).
 */
export async function findIntegrationsByIds(
  db: Kysely<Database>,
  organizationId: string,
  ids: readonly string[],
  columns: readonly ListColumn[] | null = null,
): Promise<Integration[]> {
  if (ids.length === 0) return [];
  const shape = columns ? `by-ids:${columnSetName(columns)}` : 'by-ids';
  const compiled = byIds.compile(db, shape, { organizationId, ids }, (values) => byIdsQuery(db, values, columns));
  const { rows } = await db.executeQuery<IntegrationRow>(compiled);
  return rows.map(toIntegration);
}
