import { type RawBuilder, sql } from 'kysely';
import type { IntegrationRow, IntegrationStatus } from '../db/database.js';
import type { EngineConfig } from './engine.config.js';

/**
 * Statuses whose credential the engine probes on a schedule, whatever its health. A revoked
 * integration has nothing to probe, and one waiting for its first authorization has no credential yet.
 */
export const PROBED_STATUSES: readonly IntegrationStatus[] = ['ACTIVE', 'ERROR', 'NEEDS_REAUTH'];

/**
 * Statuses whose OAuth2 tokens the engine refreshes ahead of expiry. A NEEDS_REAUTH integration's
 * refresh token was refused, or its access token rejected: refreshing again would only be refused again.
 */
export const REFRESHED_STATUSES: readonly IntegrationStatus[] = ['ACTIVE', 'ERROR'];

/** Failures in a row after which the wait between probes stops doubling (2^6 = 64 intervals at most). */
const MAX_DOUBLINGS = 6;

/** A wait spread over ±10%, so that integrations connected together drift apart rather than probe in the same second. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * random()));
}

/**
 * When to probe next after a probe that left `consecutiveFailures` failures in a row: one interval after
 * a success, doubling with each failure up to `maxBackoffSeconds`, jittered.
 */
export function nextProbeAt(
  now: number,
  consecutiveFailures: number,
  intervalSeconds: number,
  maxBackoffSeconds: number,
  random: () => number = Math.random,
): Date {
  const doublings = Math.min(Math.max(consecutiveFailures, 0), MAX_DOUBLINGS);
  const seconds = Math.min(intervalSeconds * 2 ** doublings, Math.max(maxBackoffSeconds, intervalSeconds));
  return new Date(now + jittered(seconds * 1000, random));
}

/**
 * When to probe next after a probe the provider answered with a retry time (`retryAfterMs`, see
 * ProbeOutcome): not before it, however short the backoff, and never later than `maxBackoffSeconds`
 * (or one interval, when that is longer), so that no header can stop the checks.
 */
export function notBeforeRetry(
  next: Date,
  now: number,
  retryAfterMs: number | undefined,
  intervalSeconds: number,
  maxBackoffSeconds: number,
): Date {
  if (retryAfterMs === undefined) return next;
  const capMs = Math.max(maxBackoffSeconds, intervalSeconds) * 1000;
  return new Date(Math.max(next.getTime(), now + Math.min(retryAfterMs, capMs)));
}

/** The seconds between an integration's scheduled probes: its own, else the deployment's. */
export function intervalOf(row: { health_check_interval_seconds: number | null }, defaultSeconds: number): number {
  return row.health_check_interval_seconds ?? defaultSeconds;
}

/** When the engine refreshes OAuth2 tokens (`TOKEN_REFRESH_AHEAD_SECONDS`, `TOKEN_REFRESH_MAX_AGE_SECONDS`). */
export interface RefreshTiming {
  aheadSeconds: number;
  maxAgeSeconds: number;
}

export function refreshTiming(config: EngineConfig): RefreshTiming {
  return { aheadSeconds: config.tokenRefreshAheadSeconds, maxAgeSeconds: config.tokenRefreshMaxAgeSeconds };
}

/**
 * When to refresh tokens: `aheadSeconds` before they expire or once they are `maxAgeSeconds` old,
 * whichever comes first, and never in the past; null when neither their expiry nor their age is known.
 * A token whose provider stated no lifetime is refreshed by its age alone.
 */
export function refreshDueAt(
  row: Pick<IntegrationRow, 'credential_expires_at' | 'credential_obtained_at'>,
  timing: RefreshTiming,
  now: number,
): Date | null {
  const byExpiry = row.credential_expires_at ? row.credential_expires_at.getTime() - timing.aheadSeconds * 1000 : Infinity;
  const byAge = row.credential_obtained_at ? row.credential_obtained_at.getTime() + timing.maxAgeSeconds * 1000 : Infinity;
  const due = Math.min(byExpiry, byAge);
  return due === Infinity ? null : new Date(Math.max(due, now));
}

/**
 * `refreshDueAt` over an `integrations` row in SQL, in the past included; null when neither the expiry
 * nor the age is known (`least` skips nulls).
 */
export function refreshDueSql(timing: RefreshTiming): RawBuilder<Date | null> {
  return sql<Date | null>`least(
    credential_expires_at - make_interval(secs => ${timing.aheadSeconds}),
    credential_obtained_at + make_interval(secs => ${timing.maxAgeSeconds}))`;
}

/**
 * Whether the engine refreshes an `integrations` row's tokens on a schedule, in SQL: OAuth2 with a
 * refresh token, not refused, in a refreshed status, with an expiry or an age to go by.
 */
export function refreshedSql(timing: RefreshTiming): RawBuilder<boolean> {
  const statuses = sql.join(REFRESHED_STATUSES.map((status) => sql`${status}`));
  return sql<boolean>`(status in (${statuses}) and auth_kind = 'OAUTH2' and credential_refreshable
    and refresh_refused_at is null and ${refreshDueSql(timing)} is not null)`;
}

/**
 * How long a job may hold its lock, or a check its claim, before it is taken for one whose process
 * died: a probe or refresh lasts at most a few provider deadlines. The queue library itself waits hours
 * before unlocking a job.
 */
export function deadLockMs(probeTimeoutMs: number): number {
  return 3 * probeTimeoutMs + 10_000;
}
