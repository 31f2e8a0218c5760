import type { ResourceRow, SyncRunRow, SyncStatus, SyncTrigger } from '../../db/database.js';

/** One resource an integration's credential reaches (a repository, a project...), as its latest successful sync listed it. */
export interface Resource {
  id: string;
  integrationId: string;
  kind: string;
  externalId: string;
  name: string;
  url: string | null;
  metadata: Record<string, unknown>;
  syncedAt: Date;
}

/** One inventory sync of an integration. */
export interface SyncRun {
  id: string;
  integrationId: string;
  status: SyncStatus;
  trigger: SyncTrigger;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  itemCount: number | null;
  truncated: boolean;
  errorCode: string | null;
  error: string | null;
}

/** The one place a resource row becomes a domain object. */
export function toResource(row: ResourceRow): Resource {
  return {
    id: row.id,
    integrationId: row.integration_id,
    kind: row.kind,
    externalId: row.external_id,
    name: row.name,
    url: row.url,
    metadata: row.metadata,
    syncedAt: row.synced_at,
  };
}

/** The one place a sync run row becomes a domain object. */
export function toSyncRun(row: SyncRunRow): SyncRun {
  return {
    id: row.id,
    integrationId: row.integration_id,
    status: row.status,
    trigger: row.trigger,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    itemCount: row.item_count,
    truncated: row.truncated,
    errorCode: row.error_code,
    error: row.error,
  };
}
