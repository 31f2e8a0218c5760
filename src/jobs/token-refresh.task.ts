import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import { ServiceError } from '../errors.js';
import { openBundle } from '../modules/integration/credential-bundle.js';
import { refreshWithLock } from '../modules/integration/tokens.service.js';
import type { ProbePayload as RefreshPayload, TaskDeps } from './health-probe.task.js';
import { nextProbeAt, REFRESHED_STATUSES, type RefreshTiming, refreshDueAt, refreshDueSql, refreshTiming } from './schedule.js';
import { schedulerActor } from './scheduler-actor.js';

export const TOKEN_REFRESH_TASK = 'integration.refresh-tokens';

/** The first wait after a refresh that failed for a reason that may pass (the provider down, a 5xx). */
const RETRY_AFTER_FAILURE_SECONDS = 30;

/** A job that runs this early still counts as due. */
const DUE_TOLERANCE_MS = 1_000;

type RefreshResult = 'refreshed' | 'not-due' | 'refused' | 'failed';

/**
 * Refreshes an integration's OAuth2 tokens `TOKEN_REFRESH_AHEAD_SECONDS` before they expire, or once they
 * are `TOKEN_REFRESH_MAX_AGE_SECONDS` old (all that counts when the provider stated no expiry), whichever
 * comes first, through the same single-flight refresh as the mutation: any number of jobs and requests at
 * once make one provider call. A refresh already made since this job started (by a request, or by a job
 * that ran twice) is taken as this one's. The provider's refusal leaves the integration NEEDS_REAUTH
 * (recorded by the refresh) with nothing scheduled; a failure that may pass is retried with backoff, and
 * counts against health only once the token has expired.
 */
export async function refreshOnSchedule(deps: TaskDeps, payload: RefreshPayload, jobId: string): Promise<RefreshResult> {
  const { db, services, config } = deps;
  const timing = refreshTiming(config);
  const since = new Date();
  const row = await db.selectFrom('integrations').selectAll().where('id', '=', payload.integrationId).executeTakeFirst();
  if (!row) return 'not-due';
  const due = refreshDueAt(row, timing, Date.now());
  if (!REFRESHED_STATUSES.includes(row.status) || row.auth_kind !== 'OAUTH2' || !row.credential_refreshable || due === null) {
    await scheduleRefresh(db, row.id, null);
    return 'not-due';
  }
  if (due.getTime() > Date.now() + DUE_TOLERANCE_MS) {
    // Refreshed meanwhile (by a request): follow the new tokens.
    await scheduleFromCredential(db, row.id, timing);
    return 'not-due';
  }
  if (!hasRefreshToken(deps, row)) {
    // Sealed before the gateway recorded whether it has one: now it knows, and schedules no more.
    await db
      .updateTable('integrations')
      .set({ credential_refreshable: false, next_refresh_at: null })
      .where('id', '=', row.id)
      .where('secret_version', '=', row.secret_version)
      .execute();
    return 'not-due';
  }
  const actor = await schedulerActor(db, row.organization_id, TOKEN_REFRESH_TASK, jobId);
  if (!actor) return 'not-due';
  try {
    // The commit of new tokens clears the schedule with the old expiry (sealBundle): should this process
    // stop right after it, the sweep schedules the next refresh from the new one.
    const { refreshed } = await refreshWithLock(services, db, actor, row.id, { kind: 'force', since }, { aheadOfExpiry: true });
    await scheduleFromCredential(db, row.id, timing);
    return refreshed ? 'refreshed' : 'not-due';
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    if (error.code === 'PROVIDER_REJECTED_CREDENTIALS') {
      // Refused: now NEEDS_REAUTH, which nothing but a new authorization changes.
      await scheduleRefresh(db, row.id, null);
      return 'refused';
    }
    if (error.code !== 'PROVIDER_UNREACHABLE' && error.code !== 'PROVIDER_ERROR') {
      // No OAuth2 client configured, a credential that cannot be opened: only the deployment changes that,
      // so the next attempt waits the longest backoff rather than come back at every sweep.
      await scheduleRefresh(db, row.id, new Date(Date.now() + config.healthCheckMaxBackoffSeconds * 1000));
      return 'refused';
    }
    const failures = await refreshFailuresInRow(db, row.organization_id, row.id);
    await scheduleRefresh(
      db,
      row.id,
      nextProbeAt(Date.now(), failures - 1, RETRY_AFTER_FAILURE_SECONDS, config.healthCheckMaxBackoffSeconds),
    );
    return 'failed';
  }
}

/**
 * Refreshes of the stored tokens that failed since they were obtained, the one just recorded included
 * (at least 1): the backoff's exponent. Not the integration's failures, which a refresh ahead of expiry
 * does not count.
 */
async function refreshFailuresInRow(db: Kysely<Database>, organizationId: string, integrationId: string): Promise<number> {
  const row = await sql<{ failures: number }>`
    select count(*)::int as failures from integration_events e
    where e.organization_id = ${organizationId} and e.integration_id = ${integrationId} and e.type = 'integration.refresh_failed'
      and e.created_at > coalesce(
        (select credential_obtained_at from integrations where id = ${integrationId}), '-infinity'::timestamptz)`.execute(db);
  return Math.max(row.rows[0]?.failures ?? 1, 1);
}

/** Whether the stored credential has a refresh token; one that cannot be opened is left to the refresh to report. */
function hasRefreshToken(deps: TaskDeps, row: Parameters<typeof openBundle>[1]): boolean {
  try {
    const credential = openBundle(deps.services, row).credential;
    return credential?.kind === 'OAUTH2' && Boolean(credential.refreshToken);
  } catch (error) {
    if (error instanceof ServiceError) return true;
    throw error;
  }
}

/**
 * Schedules the next refresh from the tokens stored now, in one statement: as the sweep does (ahead of
 * their expiry or at their maximum age, never in the past), nothing when they cannot be refreshed. Never
 * from tokens read earlier, which a refresh by a request may have replaced meanwhile.
 */
async function scheduleFromCredential(db: Kysely<Database>, integrationId: string, timing: RefreshTiming): Promise<void> {
  const due = refreshDueSql(timing);
  await db
    .updateTable('integrations')
    .set({ next_refresh_at: sql<Date>`case when credential_refreshable and ${due} is not null then greatest(${due}, now()) end` })
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
