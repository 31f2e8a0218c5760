/** How this process takes part in the background engine (src/jobs), from the environment (src/config.ts). */
export interface EngineConfig {
  /** Whether this process runs workers (`WORKERS`, default on; `WORKERS=0` serves only). */
  workers: boolean;
  /** Jobs this process runs at once (`WORKER_CONCURRENCY`). */
  concurrency: number;
  /**
   * How often an idle worker looks for due jobs (`WORKER_POLL_INTERVAL_MS`). On PostgreSQL a new job
   * wakes a worker at once (LISTEN/NOTIFY); the embedded database has no notifications across its
   * clients, so this is also how soon its workers see a new job.
   */
  pollIntervalMs: number;
  /** Seconds between scheduled health probes of an integration (`HEALTH_CHECK_INTERVAL_SECONDS`). */
  healthCheckIntervalSeconds: number;
  /** The longest wait between probes of an integration that keeps failing (`HEALTH_CHECK_MAX_BACKOFF_SECONDS`). */
  healthCheckMaxBackoffSeconds: number;
  /** Seconds before an OAuth2 access token expires that it is refreshed (`TOKEN_REFRESH_AHEAD_SECONDS`). */
  tokenRefreshAheadSeconds: number;
  /**
   * The age (since they were obtained or last refreshed) at which OAuth2 tokens with a refresh token are
   * refreshed, whatever their expiry says, and all the engine goes by when the provider stated none
   * (`TOKEN_REFRESH_MAX_AGE_SECONDS`).
   */
  tokenRefreshMaxAgeSeconds: number;
  /** Seconds between inventory syncs of an integration (`SYNC_INTERVAL_SECONDS`). */
  syncIntervalSeconds: number;
  /** The most resources one sync stores (`SYNC_MAX_ITEMS`); a longer inventory is cut there and marked truncated. */
  syncMaxItems: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  workers: true,
  concurrency: 4,
  pollIntervalMs: 2_000,
  healthCheckIntervalSeconds: 300,
  healthCheckMaxBackoffSeconds: 3_600,
  tokenRefreshAheadSeconds: 600,
  tokenRefreshMaxAgeSeconds: 86_400,
  syncIntervalSeconds: 3_600,
  syncMaxItems: 10_000,
};
