import { type Kysely, sql } from 'kysely';
import { runProbe } from '../connectors/probe.js';
import type { Database, IntegrationRow } from '../db/database.js';
import { ServiceError } from '../errors.js';
import { isUuid } from '../ids.js';
import type { GatewayServices } from '../services.js';
import { boundOrigins, connectorTarget, openBundle, requireCredential } from '../modules/integration/credential-bundle.js';
import { recordProbe } from '../modules/integration/health-recording.js';
import { type MutationActor, originOf, recordEvent } from '../modules/integration/integration.audit.js';
import { appendTransitions, checkOf } from '../modules/integration/integration.events.js';
import { lockIntegrationRow, updateIntegrationRow } from '../modules/integration/integration.repository.js';
import { isExpired } from '../modules/integration/refresh-record.js';
import { refreshWithLock } from '../modules/integration/tokens.service.js';
import type { EngineConfig } from './engine.config.js';
import { recordProbeLag } from './engine.metrics.js';
import type { ProbeClaims } from './probe-claims.js';
import { deadLockMs, intervalOf, nextProbeAt, notBeforeRetry, PROBED_STATUSES } from './schedule.js';
import { schedulerActor } from './scheduler-actor.js';

export const HEALTH_PROBE_TASK = 'integration.probe';

/** What a scheduled probe or refresh job carries: the integration, never a credential. */
export interface ProbePayload {
  organizationId: string;
  integrationId: string;
}

/** A job's payload as the sweep queues it; anything else (a job added by hand) fails the job, naming what it expects. */
export function integrationPayload(payload: unknown): ProbePayload {
  const { organizationId, integrationId } = (payload ?? {}) as Record<string, unknown>;
  if (typeof organizationId !== 'string' || !isUuid(organizationId) || typeof integrationId !== 'string' || !isUuid(integrationId)) {
    throw new Error('The job payload must be {"organizationId": "<uuid>", "integrationId": "<uuid>"}.');
  }
  return { organizationId, integrationId };
}

export interface TaskDeps {
  db: Kysely<Database>;
  services: GatewayServices;
  config: EngineConfig;
  /**
   * Aborted when the process's shutdown cuts its running jobs off: they are failed back to the queue
   * for another process to retry, so a job that outlives that moment must not commit its outcome too.
   */
  cutOff: AbortSignal;
  /** The checks this process is making (probe-claims.ts). */
  claims: ProbeClaims;
}

/** A job's outcome arrived after shutdown handed the job back to the queue: it is not recorded. */
export class JobCutOffError extends Error {
  override name = 'JobCutOffError';
}

/** A job that runs this early (clocks of processes differ a little) still counts as due. */
const DUE_TOLERANCE_MS = 1_000;

type ProbeResult = 'probed' | 'not-due' | 'not-probed';

/**
 * The scheduled health probe: what `testIntegration` does (an expired OAuth2 token refreshed first, the
 * same probe, the same state machine and history, an `integration.tested` event), acted by the
 * scheduler, and the next check scheduled by the outcome: one interval (the integration's own, or the
 * deployment's) after a success, backing off exponentially after failures, and never before the time
 * the provider asked for (Retry-After, rate-limit reset). The provider is called with no database
 * connection held. A paused integration is not probed.
 */
export async function probeOnSchedule(deps: TaskDeps, payload: ProbePayload, jobId: string): Promise<ProbeResult> {
  const { db, services, config } = deps;
  let row = await db.selectFrom('integrations').selectAll().where('id', '=', payload.integrationId).executeTakeFirst();
  // A job for a check that another job has made already, or that was unscheduled meanwhile, does nothing.
  if (!row || row.next_health_check_at === null || row.next_health_check_at.getTime() > Date.now() + DUE_TOLERANCE_MS) return 'not-due';
  if (!PROBED_STATUSES.includes(row.status) || row.secret_ciphertext === null || row.health_checks_paused) {
    await schedule(db, row.id, null);
    return 'not-due';
  }
  const actor = await schedulerActor(db, row.organization_id, HEALTH_PROBE_TASK, jobId);
  if (!actor) return 'not-due';
  const dueAt = row.next_health_check_at;
  const claimed = await deps.claims.claim(db, row.id, deadLockMs(services.probeTimeoutMs), DUE_TOLERANCE_MS);
  if (!claimed) return 'not-due';
  row = claimed;
  recordProbeLag((Date.now() - dueAt.getTime()) / 1000);
  try {
    if (row.auth_kind === 'OAUTH2' && isExpired(row))
      row = (await refreshWithLock(services, db, actor, row.id, { kind: 'ifExpired' })).row;
    const credential = requireCredential(openBundle(services, row));
    const target = connectorTarget(services, row);
    const outcome = await runProbe(target, credential, services.http, services.probeTimeoutMs, boundOrigins(services, row));
    await commitProbe(deps, actor, row, target, outcome);
    return 'probed';
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    // Nothing to probe with (a refresh that failed has recorded why itself, a credential that cannot be
    // opened, a provider gone from the catalog): try again later, backing off by the failures recorded.
    services.logger.warn({ integrationId: row.id, code: error.code }, 'scheduled health probe could not run');
    const current = await db.selectFrom('integrations').select('consecutive_failures').where('id', '=', row.id).executeTakeFirst();
    const failures = Math.max((current?.consecutive_failures ?? 0) + 1, 1);
    await schedule(
      db,
      row.id,
      nextProbeAt(Date.now(), failures, intervalOf(row, config.healthCheckIntervalSeconds), config.healthCheckMaxBackoffSeconds),
    );
    return 'not-probed';
  } finally {
    // Recorded, rescheduled, or failed: an unexpected failure keeps its claim until it runs out, and the
    // sweep queues the check again then.
    deps.claims.finished(row.id);
  }
}

async function commitProbe(
  deps: TaskDeps,
  actor: MutationActor,
  row: IntegrationRow,
  target: ReturnType<typeof connectorTarget>,
  outcome: Awaited<ReturnType<typeof runProbe>>,
): Promise<void> {
  const { config } = deps;
  await deps.db.transaction().execute(async (trx) => {
    const current = await lockIntegrationRow(trx, row.organization_id, row.id);
    if (deps.cutOff.aborted) throw new JobCutOffError('The probe was cut off by shutdown; another process probes again.');
    if (!current) return;
    if (current.status === 'REVOKED') {
      await schedule(trx, current.id, null);
      return;
    }
    const { patch, check } = await recordProbe(trx, current, outcome, target);
    const failures = patch.consecutive_failures ?? current.consecutive_failures;
    const interval = intervalOf(current, config.healthCheckIntervalSeconds);
    const now = Date.now();
    const backoff = nextProbeAt(now, failures, interval, config.healthCheckMaxBackoffSeconds);
    // Paused while the probe ran: it is recorded, and nothing more is scheduled.
    const next = current.health_checks_paused
      ? null
      : notBeforeRetry(backoff, now, outcome.retryAfterMs, interval, config.healthCheckMaxBackoffSeconds);
    const updated = await updateIntegrationRow(trx, current.id, { ...patch, next_health_check_at: next });
    await recordEvent(trx, actor, current.id, 'integration.tested', outcome.ok ? 'SUCCEEDED' : 'FAILED', {
      code: outcome.errorCode,
      httpStatus: outcome.httpStatus,
      health: updated.health,
      healthCheckId: check.id,
      scheduled: true,
    });
    await appendTransitions(trx, originOf(actor), current, updated, checkOf(outcome));
  });
}

/**
 * Sets when the integration is probed next. Schedule changes alone leave `row_version` and `updated_at`
 * as they are: they change nothing a client wrote, and must not fail a client's compare-and-swap.
 */
export async function schedule(db: Kysely<Database>, integrationId: string, at: Date | null): Promise<void> {
  await db
    .updateTable('integrations')
    .set({ next_health_check_at: at === null ? null : sql<Date>`${at.toISOString()}::timestamptz` })
    .where('id', '=', integrationId)
    .execute();
}
