import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import { ServiceError } from '../errors.js';
import { refreshWithLock } from '../modules/integration/tokens.service.js';
import type { ProbePayload as RefreshPayload, TaskDeps } from './health-probe.task.js';
import { nextProbeAt, REFRESHED_STATUSES, refreshDueAt } from './schedule.js';
import { schedulerActor } from './scheduler-actor.js';

export const TOKEN_REFRESH_TASK = 'integration.refresh-tokens';

/** The first wait after a refresh that failed for a reason that may pass (the provider down, a 5xx). */
const RETRY_AFTER_FAILURE_SECONDS = 30;

/** A job that runs this early still counts as due. */
const DUE_TOLERANCE_MS = 1_000;

type RefreshResult = 'refreshed' | 'not-due' | 'refused' | 'failed';

/**
 * Refreshes an integration's OAuth2 tokens `tokenRefreshAheadSeconds` before they expire, through the
 * same single-flight refresh as the mutation: any number of jobs and requests at once make one provider
 * call. A refresh already made since this job started (by a request, or by a job that ran twice) is
 * taken as this one's. The provider's refusal leaves the integration NEEDS_REAUTH (recorded by the
 * refresh) with nothing scheduled; a failure that may pass is retried with backoff.
 */
export async function refreshOnSchedule(deps: TaskDeps, payload: RefreshPayload, jobId: string): Promise<RefreshResult> {
  const { db, services, config } = deps;
  const since = new Date();
  const row = await db.selectFrom('integrations').selectAll().where('id', '=', payload.integrationId).executeTakeFirst();
  if (!row) return 'not-due';
  if (!REFRESHED_STATUSES.includes(row.status) || row.auth_kind !== 'OAUTH2' || row.credential_expires_at === null) {
    await scheduleRefresh(db, row.id, null);
    return 'not-due';
  }
  const due = refreshDueAt(row.credential_expires_at, config.tokenRefreshAheadSeconds, Date.now());
  if (due.getTime() > Date.now() + DUE_TOLERANCE_MS) {
    // Refreshed meanwhile (by a request): follow the new expiry.
    await scheduleFromExpiry(db, row.id, config.tokenRefreshAheadSeconds);
    return 'not-due';
  }
  const actor = await schedulerActor(db, row.organization_id, TOKEN_REFRESH_TASK, jobId);
  if (!actor) return 'not-due';
  try {
    // The commit of new tokens clears the schedule with the old expiry (sealBundle): should this process
    // stop right after it, the sweep schedules the next refresh from the new one.
    const { refreshed } = await refreshWithLock(services, db, actor, row.id, { kind: 'force', since });
    await scheduleFromExpiry(db, row.id, config.tokenRefreshAheadSeconds);
    return refreshed ? 'refreshed' : 'not-due';
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    if (error.code !== 'PROVIDER_UNREACHABLE' && error.code !== 'PROVIDER_ERROR') {
      // Refused (now NEEDS_REAUTH), no refresh token, no OAuth2 client: nothing a later attempt would change.
      await scheduleRefresh(db, row.id, null);
      return 'refused';
    }
    const current = await db.selectFrom('integrations').select('consecutive_failures').where('id', '=', row.id).executeTakeFirst();
    const failures = Math.max(current?.consecutive_failures ?? 1, 1);
    await scheduleRefresh(
      db,
      row.id,
      nextProbeAt(Date.now(), failures - 1, RETRY_AFTER_FAILURE_SECONDS, config.healthCheckMaxBackoffSeconds),
    );
    return 'failed';
  }
}

/**
 * Schedules the next refresh from the expiry stored now, in one statement: `aheadSeconds` before it and
 * never in the past, as the sweep does; nothing without an expiry. Never from an expiry read earlier,
 * which a refresh by a request may have replaced meanwhile.
 */
async function scheduleFromExpiry(db: Kysely<Database>, integrationId: string, aheadSeconds: number): Promise<void> {
  await db
    .updateTable('integrations')
    .set({
      next_refresh_at: sql<Date>`case when credential_expires_at is not null
        then greatest(credential_expires_at - make_interval(secs => ${aheadSeconds}), now()) end`,
    })
    .where('id', '=', integrationId)
    .execute();
}

/** Sets when the tokens are refreshed next; like a probe's schedule, it leaves `row_version` alone. */
export async function scheduleRefresh(db: Kysely<Database>, integrationId: string, at: Date | null): Promise<void> {
  await db
    .updateTable('integrations')
    .set({ next_refresh_at: at === null ? null : sql<Date>`${at.toISOString()}::timestamptz` })
    .where('id', '=', integrationId)
    .execute();
}
