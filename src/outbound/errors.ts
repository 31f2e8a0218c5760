/**
 * Failures of an outbound call. Messages name the host and the reason class only: never the URL's path
 * or query, headers or bodies, which may carry tokens.
 */
export abstract class OutboundError extends Error {
  abstract readonly code: 'OUTBOUND_BLOCKED' | 'PROVIDER_TIMEOUT' | 'PROVIDER_UNREACHABLE';
  constructor(
    /** The host the call was for (`host[:port]`), for operators. */
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/** The outbound policy refused the destination (scheme, address range, redirect target). Never retried. */
export class OutboundBlockedError extends OutboundError {
  override name = 'OutboundBlockedError';
  readonly code = 'OUTBOUND_BLOCKED' as const;
  constructor(host: string, reason: string) {
    super(host, `Outbound request to ${host || 'an invalid URL'} refused: ${reason}.`);
  }
}

/** The call's deadline passed (connecting, waiting, retrying or following redirects). */
export class OutboundTimeoutError extends OutboundError {
  override name = 'OutboundTimeoutError';
  readonly code = 'PROVIDER_TIMEOUT' as const;
  constructor(host: string, timeoutMs: number) {
    super(host, `${host} did not answer within ${timeoutMs} ms.`);
  }
}

/** The connection failed or the answer was unusable (reset, refused, too many redirects). */
export class OutboundNetworkError extends OutboundError {
  override name = 'OutboundNetworkError';
  readonly code = 'PROVIDER_UNREACHABLE' as const;
  constructor(
    host: string,
    reason: string,
    /** Whether trying again may help (a reset may; a redirect loop will not). */
    readonly retryable: boolean,
  ) {
    super(host, `Could not reach ${host}: ${reason}.`);
  }
}

/** The first error in a cause chain that is one of ours (undici wraps connect-time refusals in `fetch failed`). */
export function findOutboundError(error: unknown): OutboundError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (current instanceof OutboundError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** A short, safe description of a transport failure: the system error code, never its message. */
export function networkReason(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return 'connection failed';
}
