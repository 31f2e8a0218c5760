import { type Kysely, type RawBuilder, sql } from 'kysely';
import { fetchInventory, inventoryFor, inventoryListings } from '../connectors/inventory.js';
import { findConnector, listConnectors } from '../connectors/registry.js';
import type { Database, SyncRunRow } from '../db/database.js';
import { ServiceError } from '../errors.js';
import { boundOrigins, connectorTarget, openBundle, requireCredential } from '../modules/integration/credential-bundle.js';
import { isExpired } from '../modules/integration/refresh-record.js';
import { refreshWithLock } from '../modules/integration/tokens.service.js';
import { finishRun, type RunEnd, startRun } from '../modules/inventory/inventory.repository.js';
import { JobCutOffError, type ProbePayload, type TaskDeps } from './health-probe.task.js';
import { deadLockMs, jittered, nextProbeAt, PROBED_STATUSES } from './schedule.js';
import { schedulerActor } from './scheduler-actor.js';
import { SyncClaim, SyncClaimLostError } from './sync-claim.js';

export const SYNC_TASK = 'integration.sync';

/** A job that runs this early still counts as due. */
const DUE_TOLERANCE_MS = 1_000;

/**
 * Whether the engine syncs the integration's inventory: its connector lists one for its auth kind and
 * config, and it has a credential to list with.
 */
export function syncsInventory(row: {
  provider: string;
  status: string;
  auth_kind: string;
  config: Record<string, unknown>;
  secret_ciphertext: string | null;
}): boolean {
  const definition = findConnector(row.provider);
  return (
    Boolean(definition && inventoryFor(definition, row.auth_kind, row.config)) &&
    PROBED_STATUSES.some((status) => status === row.status) &&
    row.secret_ciphertext !== null
  );
}

/** `inventoryFor` as SQL over an `integrations` row: whether its connector lists an inventory for its auth kind and config. */
export function hasInventorySql(): RawBuilder<boolean> {
  const listings = listConnectors().flatMap((definition) =>
    inventoryListings(definition).map((listing) => {
      const kinds = listing.authKinds ? sql` and auth_kind in (${sql.join(listing.authKinds.map((kind) => sql`${kind}`))})` : sql``;
      const config = listing.requiresConfig ? sql` and coalesce(config ->> ${listing.requiresConfig}, '') <> ''` : sql``;
      return sql`(provider = ${definition.key}${kinds}${config})`;
    }),
  );
  return sql<boolean>`(${sql.join(listings, sql` or `)})`;
}

/**
 * An inventory sync: what the integration's credential reaches (its connector's `inventory`), listed
 * page by page with no database connection held, then stored in place of the previous inventory in
 * one transaction with the run's record. The integration is claimed first, and the claim kept as pages
 * arrive (SyncClaim), so that two jobs never list it at once, however long the listing takes. A failure
 * keeps the previous inventory and is retried with backoff, never before the provider's Retry-After.
 */
export async function syncOnSchedule(deps: TaskDeps, payload: ProbePayload, jobId: string): Promise<'synced' | 'failed' | 'not-due'> {
  const { db, services, config } = deps;
  const row = await db.selectFrom('integrations').selectAll().where('id', '=', payload.integrationId).executeTakeFirst();
  if (!row || row.next_sync_at === null || row.next_sync_at.getTime() > Date.now() + DUE_TOLERANCE_MS) return 'not-due';
  if (!syncsInventory(row)) {
    await scheduleSync(db, row.id, null);
    return 'not-due';
  }
  const actor = await schedulerActor(db, row.organization_id, SYNC_TASK, jobId);
  if (!actor) return 'not-due';
  // Each step (a refresh, a page of the listing, the store) lasts at most a provider deadline or two.
  const taken = await SyncClaim.take(db, row.id, deadLockMs(services.probeTimeoutMs), DUE_TOLERANCE_MS);
  if (!taken) return 'not-due';
  const { claim } = taken;
  const run = await startRun(db, row.organization_id, row.id);
  let end: RunEnd;
  let retryAfterMs: number | undefined;
  try {
    let current = taken.row;
    if (current.auth_kind === 'OAUTH2' && isExpired(current))
      current = (await refreshWithLock(services, db, actor, current.id, { kind: 'ifExpired' })).row;
    const credential = requireCredential(openBundle(services, current));
    const target = connectorTarget(services, current);
    const origins = boundOrigins(services, current);
    await claim.keep();
    const outcome = await fetchInventory(target, credential, services.http, services.probeTimeoutMs, origins, config.syncMaxItems, () =>
      claim.keep(),
    );
    end = outcome.ok ? { ok: true, kind: outcome.kind, items: outcome.items, truncated: outcome.truncated } : outcome;
    if (!outcome.ok) retryAfterMs = outcome.retryAfterMs;
    await claim.keep();
  } catch (error) {
    if (error instanceof SyncClaimLostError) return abandon(deps, run);
    // Nothing to list with (a refresh that failed, a credential that cannot be opened): a failed run.
    if (!(error instanceof ServiceError)) throw error;
    end = { ok: false, errorCode: error.code, message: error.message };
  }
  const stored = await db.transaction().execute(async (trx) => {
    if (deps.cutOff.aborted) throw new JobCutOffError('The sync was cut off by shutdown; another process syncs again.');
    if (!(await claim.heldIn(trx))) return false;
    await finishRun(trx, run, end);
    const now = Date.now();
    let next = end.ok
      ? new Date(now + jittered(config.syncIntervalSeconds * 1000))
      : nextProbeAt(now, await failuresInRow(trx, row.id), config.syncIntervalSeconds, config.healthCheckMaxBackoffSeconds);
    if (retryAfterMs !== undefined) next = new Date(Math.max(next.getTime(), now + retryAfterMs));
    await scheduleSync(trx, row.id, next);
    return true;
  });
  if (!stored) return abandon(deps, run);
  services.logger.debug({ integrationId: row.id, runId: run.id, ok: end.ok }, 'inventory sync finished');
  return end.ok ? 'synced' : 'failed';
}

/**
 * A sync whose claim another took over stores nothing: the other lists afresh. Its run, unless the other
 * has already marked it interrupted, ends so.
 */
async function abandon(deps: TaskDeps, run: SyncRunRow): Promise<'not-due'> {
  deps.services.logger.warn({ integrationId: run.integration_id, runId: run.id }, 'inventory sync taken over by another; nothing stored');
  await deps.db.transaction().execute(async (trx) => {
    const still = await trx.selectFrom('integration_sync_runs').select('status').where('id', '=', run.id).forUpdate().executeTakeFirst();
    if (still?.status !== 'RUNNING') return;
    await finishRun(trx, run, {
      ok: false,
      errorCode: 'INTERRUPTED',
      message: 'The sync stalled past its claim and another took over; it stored nothing.',
    });
  });
  return 'not-due';
}

/** Failed runs since the last success, this one included: the backoff's exponent. */
async function failuresInRow(db: Kysely<Database>, integrationId: string): Promise<number> {
  const row = await sql<{ failures: number }>`
    select count(*)::int as failures from integration_sync_runs
    where integration_id = ${integrationId} and status = 'FAILED'
      and queued_at > coalesce(
        (select max(queued_at) from integration_sync_runs where integration_id = ${integrationId} and status = 'SUCCEEDED'),
        '-infinity'::timestamptz)`.execute(db);
  return row.rows[0]?.failures ?? 1;
}

/** Sets when the inventory is synced next; bookkeeping, so the row's version stays as it is. */
export async function scheduleSync(db: Kysely<Database>, integrationId: string, at: Date | null): Promise<void> {
  await db
    .updateTable('integrations')
    .set({ next_sync_at: at === null ? null : sql<Date>`${at.toISOString()}::timestamptz` })
    .where('id', '=', integrationId)
    .execute();
}
