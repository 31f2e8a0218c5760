// Redirects and retries are followed here rather than by undici's interceptors.redirect/.retry (undici 6),
// which would weaken both. Redirect: across origins it drops only Authorization, Cookie and
// Proxy-Authorization, so a key header (PRIVATE-TOKEN, DD-API-KEY) would follow; it resends a 307/308 body
// to another origin; and a hop reuses the dispatcher without the policy's URL check (https required, the
// plain-http agent) or the provider's slot. Retry: a Retry-After beyond the cap is waited out (capped)
// instead of answered at once, a retryable status left after the last try becomes an error instead of the
// provider's response, and its backoff has no jitter and ignores the call's deadline.

import { type Agent, request } from 'undici';
import { OutboundPolicy } from './address-policy.js';
import { OutboundBlockedError, OutboundNetworkError, OutboundTimeoutError, findOutboundError, networkReason } from './errors.js';
import { createGuardedAgent, type Resolver } from './guarded-agent.js';
import { backoffDelay, RETRY_AFTER_STATUSES, RETRY_STATUSES, replayableBody, retryAfterMs, sleep } from './retry.js';
import { KeyedSemaphore } from './semaphore.js';

/** Extra per-call options: a deadline for the whole call, the provider it counts against, retry safety. */
export type OutboundInit = RequestInit & {
  /** Deadline of the whole call (redirects, retries, waits), default `defaultTimeoutMs`. */
  timeoutMs?: number;
  /** Concurrency bucket; defaults to the URL's host. */
  provider?: string;
  /** May the call be sent twice? Defaults to true for GET and HEAD only. */
  idempotent?: boolean;
};

/** Every call the gateway makes to a provider on a user's behalf. */
export type HttpClient = (url: string, init?: OutboundInit) => Promise<Response>;

/** One request for `send`: its body a string, sent as it is. */
export interface OutboundSendInit {
  method: string;
  headers: Record<string, string>;
  body: string;
  /** Deadline from the call to the last byte of the answer read, default `defaultTimeoutMs`. */
  timeoutMs?: number;
  /** Concurrency bucket; defaults to the URL's host. */
  provider?: string;
}

/** An answer to `send`, its body read (or dropped) by the caller. */
export interface OutboundAnswer {
  status: number;
  /** A header's value (the first, when sent more than once), or null. */
  header(name: string): string | null;
  /** Reads at most `limit` bytes of the body, drops the rest, and ends the call's deadline. */
  text(limit: number): Promise<string>;
}

/** A client that also owns connection pools, closed on shutdown. */
export type OutboundHttpClient = HttpClient & {
  /**
   * One request answered as it is: no redirect followed, no retry, through `undici.request` rather than
   * fetch (no Request, Response or web streams: a webhook attempt costs a fraction of a fetch), with the
   * same policy, agents and per-provider slots as the client.
   */
  send(url: string, init: OutboundSendInit): Promise<OutboundAnswer>;
  close(): Promise<void>;
};

export interface HttpClientOptions {
  /** Hostnames (`*.example.com` too), IPs or CIDR ranges allowed whatever they resolve to, plain http included. */
  allowlist: string[];
  /** Also allow loopback, RFC 1918, unique-local and CGNAT addresses (development). Link-local, metadata included, never. */
  allowPrivate: boolean;
  /** Refuse plain `http` unless allow-listed. */
  requireHttps: boolean;
  /** Deadline of a call that names none. */
  defaultTimeoutMs: number;
  /** Further tries of an idempotent call after a network error, 429, 502, 503 or 504. */
  maxRetries: number;
  /** Calls in flight at once per provider (until response headers arrive). */
  perProviderConcurrency: number;
  /** First backoff step (full jitter, doubling per try), default 200 ms. */
  retryBaseDelayMs?: number;
  /** Largest backoff step, default 5 s. */
  retryMaxDelayMs?: number;
  /** Longest `Retry-After` honoured; a longer one returns the answer to the caller at once. Default 30 s. */
  maxRetryAfterMs?: number;
  /** Redirects followed, each re-checked, default 5. */
  maxRedirects?: number;
  /** DNS for tests; the system resolver otherwise. */
  resolve?: Resolver;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that may follow a redirect to another origin: credentials (Authorization, API key headers) may not. */
const CROSS_ORIGIN_HEADERS = new Set(['accept', 'accept-encoding', 'accept-language', 'content-type', 'content-language', 'user-agent']);

interface Hop {
  method: string;
  headers: Headers;
  body: RequestInit['body'];
}

export function createHttpClient(options: HttpClientOptions): OutboundHttpClient {
  const policy = new OutboundPolicy(options);
  const agent = createGuardedAgent(policy, { plainHttp: false, resolve: options.resolve });
  // Plain http under requireHttps: only addresses that are allow-listed by range may be connected to.
  const plainAgent = createGuardedAgent(policy, { plainHttp: true, resolve: options.resolve });
  const semaphore = new KeyedSemaphore(options.perProviderConcurrency);
  const maxRedirects = options.maxRedirects ?? 5;

  /** One fetch per hop, following redirects by hand so that every target passes the policy again. */
  async function fetchFollowing(
    start: URL,
    init: RequestInit,
    mode: RequestRedirect,
    bucket: string,
    signal: AbortSignal,
  ): Promise<Response> {
    let url = start;
    const hop: Hop = { method: (init.method ?? 'GET').toUpperCase(), headers: new Headers(init.headers), body: init.body };
    for (let redirects = 0; ; redirects += 1) {
      const { plainHttp } = policy.checkUrl(url);
      const release = await semaphore.acquire(bucket, signal);
      let response: Response;
      try {
        const dispatcher: Agent = plainHttp ? plainAgent : agent;
        response = await fetch(url, { ...init, ...hop, redirect: 'manual', signal, dispatcher } as RequestInit);
      } finally {
        release();
      }
      const location = response.headers.get('location');
      if (mode === 'manual' || !REDIRECTS.has(response.status) || location === null) return response;
      await response.body?.cancel();
      if (mode === 'error') throw new OutboundNetworkError(url.host, 'the provider redirected and redirects are refused', false);
      if (redirects >= maxRedirects) throw new OutboundNetworkError(url.host, `more than ${maxRedirects} redirects`, false);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new OutboundNetworkError(url.host, 'the provider redirected to an invalid URL', false);
      }
      // As browsers do: 303 (and 301/302 after POST) continue as a GET without the body.
      if (
        (response.status === 303 && hop.method !== 'HEAD') ||
        ((response.status === 301 || response.status === 302) && hop.method === 'POST')
      ) {
        hop.method = 'GET';
        hop.body = undefined;
        for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language']) hop.headers.delete(name);
      } else if (!replayableBody(hop.body)) {
        throw new OutboundNetworkError(url.host, 'cannot resend a streamed body to a redirect target', false);
      }
      if (next.origin !== url.origin) {
        // A body that would follow (307, 308) may hold what the headers do (a token revoked by POST, a
        // client secret): it never goes to another origin, so the redirect is refused instead.
        if (hop.body !== undefined && hop.body !== null) {
          throw new OutboundNetworkError(url.host, 'the provider redirected a request with a body to another origin', false);
        }
        for (const name of [...hop.headers.keys()]) if (!CROSS_ORIGIN_HEADERS.has(name)) hop.headers.delete(name);
      }
      url = next;
    }
  }

  const client = async (input: string, init: OutboundInit = {}): Promise<Response> => {
    const { timeoutMs: callTimeout, provider, idempotent, signal: callerSignal, redirect, ...rest } = init;
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new OutboundBlockedError('', 'the URL is not valid');
    }
    const timeoutMs = callTimeout ?? options.defaultTimeoutMs;
    const deadlineAt = Date.now() + timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
    const method = (rest.method ?? 'GET').toUpperCase();
    const retries = (idempotent ?? (method === 'GET' || method === 'HEAD')) && replayableBody(rest.body) ? options.maxRetries : 0;
    const bucket = provider ?? url.host;

    /** Our error for anything fetch threw: the policy's refusal, the deadline, the caller's abort, or the network. */
    const classify = (error: unknown): Error => {
      if (callerSignal?.aborted) return callerSignal.reason instanceof Error ? callerSignal.reason : new Error('aborted');
      if (deadline.aborted) return new OutboundTimeoutError(url.host, timeoutMs);
      return findOutboundError(error) ?? new OutboundNetworkError(url.host, networkReason(error), true);
    };

    for (let attempt = 0; ; attempt += 1) {
      let response: Response | null = null;
      let failure: Error | null = null;
      try {
        response = await fetchFollowing(url, rest, redirect ?? 'follow', bucket, signal);
      } catch (error) {
        failure = classify(error);
      }
      const retryable = failure ? failure instanceof OutboundNetworkError && failure.retryable : RETRY_STATUSES.has(response?.status ?? 0);
      if (attempt >= retries || !retryable) {
        if (failure) throw failure;
        return response as Response;
      }
      let delay = backoffDelay(attempt, options.retryBaseDelayMs ?? 200, options.retryMaxDelayMs ?? 5_000);
      if (response && RETRY_AFTER_STATUSES.has(response.status)) {
        const after = retryAfterMs(response.headers.get('retry-after'));
        // A provider asking for a longer pause than we would wait gets its answer passed on, not ignored.
        if (after !== null && after > (options.maxRetryAfterMs ?? 30_000)) return response;
        if (after !== null) delay = after;
      }
      // A retry that cannot finish before the deadline would only turn a clear answer into a timeout.
      if (Date.now() + delay >= deadlineAt) {
        if (failure) throw failure;
        return response as Response;
      }
      await response?.body?.cancel();
      try {
        await sleep(delay, signal);
      } catch (error) {
        throw classify(error);
      }
    }
  };
  const send = async (input: string, init: OutboundSendInit): Promise<OutboundAnswer> => {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new OutboundBlockedError('', 'the URL is not valid');
    }
    const { plainHttp } = policy.checkUrl(url);
    const timeoutMs = init.timeoutMs ?? options.defaultTimeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const classify = (error: unknown): Error =>
      deadline.signal.aborted
        ? new OutboundTimeoutError(url.host, timeoutMs)
        : (findOutboundError(error) ?? new OutboundNetworkError(url.host, networkReason(error), true));
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      const release = await semaphore.acquire(init.provider ?? url.host, deadline.signal);
      try {
        answer = await request(url, {
          dispatcher: plainHttp ? plainAgent : agent,
          method: init.method as 'POST',
          headers: init.headers,
          body: init.body,
          signal: deadline.signal,
        });
      } finally {
        release();
      }
    } catch (error) {
      clearTimeout(timer);
      throw classify(error);
    }
    const { statusCode, headers, body } = answer;
    return {
      status: statusCode,
      header(name) {
        const value = headers[name.toLowerCase()];
        return (Array.isArray(value) ? value[0] : value) ?? null;
      },
      async text(limit) {
        const chunks: Buffer[] = [];
        let size = 0;
        try {
          for await (const chunk of body) {
            chunks.push(chunk as Buffer);
            size += (chunk as Buffer).byteLength;
            if (size >= limit) break;
          }
        } catch (error) {
          throw classify(error);
        } finally {
          clearTimeout(timer);
          if (!body.destroyed) body.destroy();
        }
        return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
      },
    };
  };
  return Object.assign(client, {
    send,
    async close() {
      await Promise.all([agent.close(), plainAgent.close()]);
    },
  });
}
