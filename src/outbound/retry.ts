/** Statuses worth another try of an idempotent call: overload and gateway failures. */
export const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Statuses whose `Retry-After` is honoured (the provider says when it will take calls again). */
export const RETRY_AFTER_STATUSES = new Set([429, 503]);

/**
 * "Full jitter" exponential backoff: a uniformly random wait up to `base * 2^attempt`, capped, so that
 * many gateways retrying the same provider spread out instead of arriving together.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/** Reads `Retry-After` as delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number.parseInt(value, 10) * 1000;
  // An HTTP date names its weekday and month; Date.parse alone would also accept "-1" as a year.
  if (!/[a-z]{3}/i.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Sleeps, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Whether a request body can be sent again (a stream is consumed by the first attempt). */
export function replayableBody(body: unknown): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body === 'string' || body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  if (body instanceof Blob || body instanceof FormData) return true;
  return false;
}
