/** How webhooks are signed and delivered (`WEBHOOK_*` in src/config.ts). */
export interface WebhookConfig {
  /**
   * Waits before each retry after a failed attempt (`WEBHOOK_RETRY_SCHEDULE`), each with ±15% jitter;
   * after the last one fails the delivery is given up.
   */
  retryScheduleMs: readonly number[];
  /** Deadline of one attempt, connecting to the last byte of the answer kept (`WEBHOOK_TIMEOUT_MS`). */
  timeoutMs: number;
  /** An endpoint whose attempts have all failed for this long is disabled (`WEBHOOK_DISABLE_AFTER_HOURS`). */
  disableAfterMs: number;
  /** How long a rotated-out secret keeps signing beside the new one, by default (`WEBHOOK_SECRET_GRACE_HOURS`). */
  secretGraceMs: number;
  /** Attempts one process sends at once to one endpoint (`WEBHOOK_CONCURRENCY`). */
  concurrency: number;
  /** Finished deliveries and their attempts are kept this long (`WEBHOOK_DELIVERY_RETENTION_DAYS`). */
  retentionDays: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: 24 * HOUR };

/** 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times: the last retry about three days after the first attempt. */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h,10h,10h,10h,10h';

export const DEFAULT_WEBHOOK_CONFIG: WebhookConfig = {
  retryScheduleMs: parseRetrySchedule(DEFAULT_RETRY_SCHEDULE) as number[],
  timeoutMs: 10 * SECOND,
  disableAfterMs: 72 * HOUR,
  secretGraceMs: 24 * HOUR,
  concurrency: 16,
  retentionDays: 30,
};

/** Reads `5s,5m,2h` (units ms, s, m, h, d) into milliseconds; null when any entry is not a duration. */
export function parseRetrySchedule(text: string): number[] | null {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.length === 0 || entries.length > 50) return null;
  const out: number[] = [];
  for (const entry of entries) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(entry);
    if (!match) return null;
    const ms = Math.round(Number(match[1]) * (UNITS[match[2] as string] as number));
    if (!Number.isFinite(ms) || ms < 1 || ms > 7 * 24 * HOUR) return null;
    out.push(ms);
  }
  return out;
}

/** The wait after failed attempt `attempt` (1-based), jittered ±15%; null when no retry is left. */
export function retryDelayMs(
  config: Pick<WebhookConfig, 'retryScheduleMs'>,
  attempt: number,
  random: () => number = Math.random,
): number | null {
  const base = config.retryScheduleMs[attempt - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.85 + 0.3 * random()));
}
