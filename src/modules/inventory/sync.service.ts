import { type Kysely, sql } from 'kysely';
import { inventoryFor, inventoryListings } from '../../connectors/inventory.js';
import { findConnector } from '../../connectors/registry.js';
import type { ConnectorDefinition } from '../../connectors/types.js';
import type { Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import { findResumableEvent } from '../integration/integration-event.repository.js';
import { type MutationActor, recordEvent } from '../integration/integration.audit.js';
import { type Integration, toIntegration } from '../integration/integration.model.js';
import { findIntegrationRow, lockIntegrationRow } from '../integration/integration.repository.js';
import { insertQueuedRun } from './inventory.repository.js';
import { type SyncRun, toSyncRun } from './inventory.model.js';

/** The queue's task and job key of an integration's sync (src/jobs/sync.task.ts, sweep.task.ts). */
const SYNC_TASK = 'integration.sync';
const syncJobKey = (integrationId: string) => `sync:${integrationId}`;

/** Why an integration has no inventory: its connector lists none, or none for its auth kind or config. */
function noInventory(definition: ConnectorDefinition | undefined, provider: string): string {
  const listings = definition ? inventoryListings(definition) : [];
  const name = definition?.name ?? provider;
  if (listings.length === 0) return `${name} has no inventory to sync.`;
  const needs = listings.flatMap((listing) => [
    ...(listing.authKinds ? [`auth kind ${listing.authKinds.join(' or ')}`] : []),
    ...(listing.requiresConfig ? [`the setting ${listing.requiresConfig}`] : []),
  ]);
  return `This ${name} integration has no inventory to sync: it needs ${[...new Set(needs)].join(', or ')}.`;
}

/**
 * Queues an inventory sync of the integration now: a run recorded as queued (shown on `lastSync`), due
 * at once, and a job for it in the engine's queue. A sync already queued or running is the answer
 * instead of a second one, and so is the run an earlier attempt of the same request queued.
 */
export async function requestSync(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  id: string,
): Promise<{ integration: Integration; syncRun: SyncRun }> {
  const organizationId = actor.viewer.organization.id;
  const row = await findIntegrationRow(db, organizationId, id);
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  if (row.status === 'REVOKED') throw new ServiceError('ALREADY_REVOKED', 'The integration is revoked.', ['id']);
  const definition = findConnector(row.provider);
  if (!definition || !inventoryFor(definition, row.auth_kind, row.config))
    throw new ServiceError('VALIDATION', noInventory(definition, row.provider), ['id']);
  if (row.secret_ciphertext === null || row.status === 'PENDING_AUTHORIZATION')
    throw new ServiceError('CONFLICT', 'The integration has no credential to sync with yet.', ['id']);

  const earlier = actor.resume ? await findResumableEvent(db, organizationId, ['integration.sync_requested'], actor.resume) : undefined;
  const runId = earlier?.integration_id === row.id ? earlier.detail.syncRunId : undefined;
  const pending = await db
    .selectFrom('integration_sync_runs')
    .selectAll()
    .where('integration_id', '=', row.id)
    .where((eb) => (typeof runId === 'string' ? eb('id', '=', runId) : eb('status', 'in', ['QUEUED', 'RUNNING'])))
    .orderBy('queued_at', 'desc')
    .executeTakeFirst();
  if (pending)
    return { integration: toIntegration((await findIntegrationRow(db, organizationId, row.id)) ?? row), syncRun: toSyncRun(pending) };

  const { integration, run } = await commitWithLiveKey(db, actor, async (trx) => {
    const current = await lockIntegrationRow(trx, organizationId, row.id);
    if (!current || current.status === 'REVOKED')
      throw new ServiceError('ALREADY_REVOKED', 'The integration was revoked meanwhile.', ['id']);
    const queued = await insertQueuedRun(trx, organizationId, current.id, 'REQUEST');
    const updated = await trx
      .updateTable('integrations')
      .set({ next_sync_at: sql<Date>`now()` })
      .where('id', '=', current.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordEvent(trx, actor, current.id, 'integration.sync_requested', 'SUCCEEDED', { syncRunId: queued.id });
    return { integration: updated, run: queued };
  });
  // The job for now; where the queue is not installed yet (no worker ever ran), the next sweep queues it.
  try {
    await sql`select graphile_worker.add_job(${SYNC_TASK}, ${JSON.stringify({ organizationId, integrationId: row.id })}::json,
      job_key := ${syncJobKey(row.id)}, max_attempts := 5)`.execute(db);
  } catch (error) {
    services.logger.debug({ err: error, integrationId: row.id }, 'sync queued for the next sweep');
  }
  return { integration: toIntegration(integration), syncRun: toSyncRun(run) };
}
