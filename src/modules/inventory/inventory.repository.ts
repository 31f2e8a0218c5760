import { type Kysely, sql, type Transaction } from 'kysely';
import type { InventoryItem } from '../../connectors/inventory.js';
import type { Database, SyncRunRow, SyncTrigger } from '../../db/database.js';
import { type EventOrigin, SCHEDULER_ACTOR } from '../events/event-actor.js';
import { appendEvent } from '../events/event.repository.js';

// Inventory syncs, row by row: the runs and the resources each successful run leaves. Each write of a
// run also writes its summary on the integration (`last_sync_*`), which lists read without a lookup.

type Db = Kysely<Database> | Transaction<Database>;

/** Resources inserted per statement: a page of a big inventory stays far below PostgreSQL's parameter limit. */
const INSERT_BATCH = 500;

/** Records a queued run and shows it as the integration's latest sync. */
export async function insertQueuedRun(trx: Transaction<Database>, organizationId: string, integrationId: string, trigger: SyncTrigger) {
  const run = await trx
    .insertInto('integration_sync_runs')
    .values({ organization_id: organizationId, integration_id: integrationId, status: 'QUEUED', trigger })
    .returningAll()
    .executeTakeFirstOrThrow();
  await showOnIntegration(trx, run);
  return run;
}

/**
 * Starts the integration's queued run, or a new scheduled one when none is queued; the run as it
 * starts. A run queued by a request is the one the request answered with, so that its progress shows.
 * The caller holds the integration's claim, so a run still running is one whose process stopped.
 */
export async function startRun(db: Kysely<Database>, organizationId: string, integrationId: string): Promise<SyncRunRow> {
  return db.transaction().execute(async (trx) => {
    // A run still RUNNING was cut off with its process (the integration's claim ran out): it failed.
    const interrupted = await trx
      .updateTable('integration_sync_runs')
      .set({
        status: 'FAILED',
        finished_at: sql<Date>`now()`,
        error_code: 'INTERRUPTED',
        error: 'The sync was interrupted; it ran again.',
      })
      .where('integration_id', '=', integrationId)
      .where('status', '=', 'RUNNING')
      .returningAll()
      .execute();
    for (const ended of interrupted) await appendSyncEvent(trx, ended, { actor: SCHEDULER_ACTOR, requestId: null });
    const queued = await trx
      .updateTable('integration_sync_runs')
      .set({ status: 'RUNNING', started_at: sql<Date>`now()` })
      .where('integration_id', '=', integrationId)
      .where('status', '=', 'QUEUED')
      .returningAll()
      .execute();
    let run = queued.at(-1);
    if (!run) {
      run = await trx
        .insertInto('integration_sync_runs')
        .values({
          organization_id: organizationId,
          integration_id: integrationId,
          status: 'RUNNING',
          trigger: 'SCHEDULE',
          started_at: sql<Date>`now()`,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    await showOnIntegration(trx, run);
    return run;
  });
}

/** What a run ended with. */
export type RunEnd =
  | { ok: true; kind: string; items: readonly InventoryItem[]; truncated: boolean }
  | { ok: false; errorCode: string; message: string };

/**
 * Ends a run: a successful one replaces the integration's resources with what it listed, in one
 * transaction with its record, so that readers see the old inventory or the new one, never a mix.
 */
export async function finishRun(
  trx: Transaction<Database>,
  run: SyncRunRow,
  end: RunEnd,
  origin: EventOrigin = { actor: SCHEDULER_ACTOR, requestId: null },
): Promise<SyncRunRow> {
  if (end.ok) {
    await trx.deleteFrom('integration_resources').where('integration_id', '=', run.integration_id).execute();
    for (let start = 0; start < end.items.length; start += INSERT_BATCH) {
      await trx
        .insertInto('integration_resources')
        .values(
          end.items.slice(start, start + INSERT_BATCH).map((item) => ({
            organization_id: run.organization_id,
            integration_id: run.integration_id,
            kind: end.kind,
            external_id: item.externalId,
            name: item.name,
            url: item.url,
            metadata: JSON.stringify(item.metadata),
          })),
        )
        .execute();
    }
  }
  const finished = await trx
    .updateTable('integration_sync_runs')
    .set({
      status: end.ok ? 'SUCCEEDED' : 'FAILED',
      finished_at: sql<Date>`now()`,
      item_count: end.ok ? end.items.length : null,
      truncated: end.ok && end.truncated,
      error_code: end.ok ? null : end.errorCode,
      error: end.ok ? null : end.message,
    })
    .where('id', '=', run.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await showOnIntegration(trx, finished);
  await appendSyncEvent(trx, finished, origin);
  return finished;
}

/** `integration.sync_completed` or `integration.sync_failed` for a run that has ended. */
async function appendSyncEvent(trx: Transaction<Database>, run: SyncRunRow, origin: EventOrigin): Promise<void> {
  const base = {
    organizationId: run.organization_id,
    subject: { type: 'Integration' as const, id: run.integration_id },
    actor: origin.actor,
    requestId: origin.requestId,
  };
  if (run.status === 'SUCCEEDED') {
    await appendEvent(trx, {
      ...base,
      type: 'integration.sync_completed',
      data: { syncRunId: run.id, trigger: run.trigger, itemCount: run.item_count ?? 0, truncated: run.truncated },
    });
  } else {
    await appendEvent(trx, {
      ...base,
      type: 'integration.sync_failed',
      data: { syncRunId: run.id, trigger: run.trigger, code: run.error_code, message: run.error },
    });
  }
}

/** The run as the integration's latest sync; bookkeeping, so the row's version stays as it is. */
async function showOnIntegration(db: Db, run: SyncRunRow): Promise<void> {
  await db
    .updateTable('integrations')
    .set({
      last_sync_run_id: run.id,
      last_sync_status: run.status,
      last_sync_started_at: run.started_at,
      last_sync_finished_at: run.finished_at,
      last_sync_item_count: run.item_count,
      last_sync_error: run.error,
    })
    .where('id', '=', run.integration_id)
    .execute();
}
