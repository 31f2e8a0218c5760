import type { AddJobsJobSpec } from 'graphile-worker';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import type { EngineConfig } from './engine.config.js';
import { HEALTH_PROBE_TASK } from './health-probe.task.js';
import { deadLockMs, PROBED_STATUSES, refreshDueSql, refreshedSql, refreshTiming } from './schedule.js';
import { hasInventorySql, SYNC_TASK } from './sync.task.js';
import { TOKEN_REFRESH_TASK } from './token-refresh.task.js';

export const SWEEP_TASK = 'engine.sweep';

/** Integrations scheduled, and jobs queued, per kind in one sweep: a bounded statement each. */
const SWEEP_BATCH = 5_000;

/** How often the sweep runs: at least once a minute, and once per health interval when that is shorter. */
export function sweepPeriodMs(config: EngineConfig): number {
  return Math.min(60, config.healthCheckIntervalSeconds) * 1000;
}

export interface SweepResult {
  probesQueued: number;
  refreshesQueued: number;
  syncsQueued: number;
}

/**
 * The schedule kept on the integrations themselves, turned into jobs. Newly eligible integrations get
 * their first check at a random moment within one interval (their own, or the deployment's; so that
 * many connected at once spread out) and their refresh ahead of expiry or at their maximum age;
 * integrations no longer eligible (or paused) lose theirs, and those backing off with no failure left
 * are brought back to one interval;
 * and every check or refresh due before the next sweep is queued under a key of its own, so that a sweep run twice, or
 * by two processes, queues it once. A job still running keeps its key, unless its process has held it
 * past `deadLockMs`: then a new job is queued in its place.
 *
 * A first schedule is given only where the row has none when the sweep writes it: each such update says
 * so in its own condition, which PostgreSQL checks again on a row a concurrent writer changed meanwhile
 * (the batch's subquery is read once, from the statement's snapshot). Without it, a sync requested while
 * the sweep scheduled the integration's first one was moved up to an hour away, and its queued run never ran.
 */
export async function sweep(
  db: Kysely<Database>,
  config: EngineConfig,
  probeTimeoutMs: number,
  addJobs: (specs: AddJobsJobSpec[]) => Promise<unknown>,
): Promise<SweepResult> {
  const interval = config.healthCheckIntervalSeconds;
  const timing = refreshTiming(config);
  const refreshed = refreshedSql(timing);
  const probed = sql.join(PROBED_STATUSES.map((status) => sql`${status}`));
  await sql`
    update integrations set next_health_check_at = null
    where next_health_check_at is not null
      and (status not in (${probed}) or secret_ciphertext is null or health_checks_paused)`.execute(db);
  await sql`
    update integrations set next_refresh_at = null
    where next_refresh_at is not null and not ${refreshed}`.execute(db);
  // Each integration's own interval where it has one.
  const ownInterval = sql`coalesce(health_check_interval_seconds, ${interval})`;
  await sql`
    update integrations set next_health_check_at = now() + random() * make_interval(secs => ${ownInterval})
    where id in (
      select id from integrations
      where next_health_check_at is null and status in (${probed}) and secret_ciphertext is not null and not health_checks_paused
      limit ${SWEEP_BATCH})
      and next_health_check_at is null`.execute(db);
  // A backoff that outlived its failures (the integration was reconnected, or a test succeeded), or a
  // check scheduled under a longer interval than the integration has now: back to one interval. Claims
  // (probe-claims.ts) never reach this far ahead; nor does a provider's Retry-After, which only a failure brings.
  const deadSeconds = deadLockMs(probeTimeoutMs) / 1000;
  await sql`
    update integrations set next_health_check_at = now() + random() * make_interval(secs => ${ownInterval})
    where next_health_check_at > now() + make_interval(secs => greatest(${ownInterval} * 1.1, ${deadSeconds}) + 1)
      and consecutive_failures = 0`.execute(db);
  // Ahead of the tokens' expiry or at their maximum age, whichever comes first.
  await sql`
    update integrations set next_refresh_at = greatest(${refreshDueSql(timing)}, now())
    where id in (
      select id from integrations
      where next_refresh_at is null and ${refreshed}
      limit ${SWEEP_BATCH})
      and next_refresh_at is null`.execute(db);

  const inventories = hasInventorySql();
  await sql`
    update integrations set next_sync_at = null
    where next_sync_at is not null
      and (not ${inventories} or status not in (${probed}) or secret_ciphertext is null)`.execute(db);
  await sql`
    update integrations set next_sync_at = now() + random() * make_interval(secs => ${config.syncIntervalSeconds})
    where id in (
      select id from integrations
      where next_sync_at is null and ${inventories} and status in (${probed}) and secret_ciphertext is not null
      limit ${SWEEP_BATCH})
      and next_sync_at is null`.execute(db);

  const horizonMs = sweepPeriodMs(config);
  const deadMs = deadLockMs(probeTimeoutMs);
  const due = (column: 'next_health_check_at' | 'next_refresh_at' | 'next_sync_at', prefix: string) =>
    sql<{ id: string; organization_id: string; at: Date }>`
      select i.id, i.organization_id, i.${sql.ref(column)} as at from integrations i
      where i.${sql.ref(column)} <= now() + make_interval(secs => ${horizonMs / 1000})
        and not exists (
          select 1 from graphile_worker.jobs j
          where j.key = ${prefix} || i.id::text and j.locked_at > now() - make_interval(secs => ${deadMs / 1000}))
      order by i.${sql.ref(column)}
      limit ${SWEEP_BATCH}`.execute(db);
  const probes = (await due('next_health_check_at', PROBE_KEY_PREFIX)).rows;
  const refreshes = (await due('next_refresh_at', REFRESH_KEY_PREFIX)).rows;
  const syncs = (await due('next_sync_at', SYNC_KEY_PREFIX)).rows;
  const specs: AddJobsJobSpec[] = [
    ...probes.map((row) => jobSpec(HEALTH_PROBE_TASK, PROBE_KEY_PREFIX, row)),
    ...refreshes.map((row) => jobSpec(TOKEN_REFRESH_TASK, REFRESH_KEY_PREFIX, row)),
    ...syncs.map((row) => jobSpec(SYNC_TASK, SYNC_KEY_PREFIX, row)),
  ];
  if (specs.length > 0) await addJobs(specs);
  return { probesQueued: probes.length, refreshesQueued: refreshes.length, syncsQueued: syncs.length };
}

const PROBE_KEY_PREFIX = 'probe:';
const REFRESH_KEY_PREFIX = 'refresh:';
const SYNC_KEY_PREFIX = 'sync:';

function jobSpec(identifier: string, prefix: string, row: { id: string; organization_id: string; at: Date }): AddJobsJobSpec {
  return {
    identifier,
    payload: { organizationId: row.organization_id, integrationId: row.id },
    runAt: row.at,
    jobKey: `${prefix}${row.id}`,
    // A job that fails is retried a few times; after that the sweep queues the next one when it is due.
    maxAttempts: 5,
  };
}
