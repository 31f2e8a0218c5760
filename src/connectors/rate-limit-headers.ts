import { RETRY_AFTER_STATUSES, retryAfterMs } from '../outbound/retry.js';

// What a provider's answer says about its rate limit. Providers name it differently: `Retry-After` on a
// 429 or 503 (RFC 9110), and a reset header beside a remaining count of 0: GitHub's `x-ratelimit-reset`
// (Unix seconds, with a 403 or 429 once the limit is spent), GitLab's `RateLimit-Reset` (Unix seconds),
// Datadog's `x-ratelimit-reset` (seconds from now).

const RESET_HEADERS = ['x-ratelimit-reset', 'ratelimit-reset'] as const;
const REMAINING_HEADERS = ['x-ratelimit-remaining', 'ratelimit-remaining'] as const;

/** A reset of at least this many seconds is a Unix time (September 2001 on); a smaller one counts from now. */
const UNIX_TIME_FROM = 1_000_000_000;

/** Whether the answer says that the rate limit is spent: a remaining count of 0. */
export function rateLimitSpent(headers: Headers): boolean {
  return REMAINING_HEADERS.some((name) => headers.get(name)?.trim() === '0');
}

/** A reset header as milliseconds from `now`; null when absent or unreadable. */
function resetMs(headers: Headers, now: number): number | null {
  for (const name of RESET_HEADERS) {
    const value = headers.get(name)?.trim();
    if (!value || !/^\d{1,12}$/.test(value)) continue;
    const seconds = Number.parseInt(value, 10);
    return Math.max(0, seconds >= UNIX_TIME_FROM ? seconds * 1000 - now : seconds * 1000);
  }
  return null;
}

/**
 * How long the provider asked not to be called again, in milliseconds, or null when it did not say:
 * `Retry-After` on a 429 or 503, else the rate limit's reset on a 429 or when the limit is spent.
 */
export function providerRetryAfterMs(status: number, headers: Headers, now: number = Date.now()): number | null {
  if (RETRY_AFTER_STATUSES.has(status)) {
    const after = retryAfterMs(headers.get('retry-after'), now);
    if (after !== null) return after;
  }
  if (status === 429 || rateLimitSpent(headers)) return resetMs(headers, now);
  return null;
}
