import type { IntegrationStatus } from '../db/database.js';

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

/** When to refresh a token that expires at `expiresAt`: `aheadSeconds` before, and never in the past. */
export function refreshDueAt(expiresAt: Date, aheadSeconds: number, now: number): Date {
  return new Date(Math.max(expiresAt.getTime() - aheadSeconds * 1000, now));
}

/**
 * How long a job may hold its lock, or a check its claim, before it is taken for one whose process
 * died: a probe or refresh lasts at most a few provider deadlines. The queue library itself waits hours
 * before unlocking a job.
 */
export function deadLockMs(probeTimeoutMs: number): number {
  return 3 * probeTimeoutMs + 10_000;
}
