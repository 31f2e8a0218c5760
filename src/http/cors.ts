import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';

/**
 * Cross-origin requests from browsers (CORS), one policy for GraphQL and the REST API: only the exact
 * origins listed in `CORS_ALLOWED_ORIGINS` are answered with CORS headers, never `*`, and never with
 * credentials: a page calls with `Authorization: Bearer <token>` it adds itself, so no cookie or cached
 * credential of the browser's is ever involved. An origin not listed gets no CORS header at all, and so
 * its page cannot read an answer. The CSRF rule (hardening.ts) is untouched by this: it concerns requests
 * a browser sends without a Bearer credential, which admission refuses whatever their origin.
 */

/** The request headers a listed origin's page may send. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'idempotency-key',
  'x-request-id',
  // GraphQL clients' CSRF headers (Apollo's, Yoga's): harmless, and some clients send them always.
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-graphql-yoga-csrf',
];
const ALLOWED_METHODS = ['GET', 'POST', 'PATCH', 'DELETE'];
/** The answer headers its page may read, besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'retry-after',
  'idempotent-replayed',
  'location',
  'www-authenticate',
];
/** Seconds a browser may cache a preflight's answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * An entry of `CORS_ALLOWED_ORIGINS` as browsers send it in `Origin` (scheme, host, port if not the
 * default; lowercase), or null when it is not an http(s) origin: a path, a query, `*` and `null` are refused.
 */
export function originOf(entry: string): string | null {
  if (!/^https?:\/\/[^/?#\s*]+\/?$/i.test(entry) || !URL.canParse(entry)) return null;
  const url = new URL(entry);
  if (url.username || url.password) return null;
  return url.origin;
}

/** The answer headers that let an allowed origin's page read an actual (non-preflight) answer. */
function actualHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS.join(', ') };
}

/** A node request header as the web Headers would give it: repeated values joined by a comma. */
const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

function setNodeHeaders(outgoing: ServerResponse, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) outgoing.setHeader(name, value);
  outgoing.setHeader('vary', 'Origin');
}

/**
 * The policy for a request other than a preflight that GraphQL answers on the node response itself
 * (router.ts): the same headers the middleware below sets, set before the answer is written.
 */
export function nodeCorsPolicy(allowedOrigins: readonly string[]): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  const allowed = new Set(allowedOrigins);
  return (incoming, outgoing) => {
    const origin = incoming.headers.origin;
    setNodeHeaders(outgoing, origin !== undefined && allowed.has(origin) ? actualHeaders(origin) : {});
  };
}

/**
 * The policy as router middleware for the GraphQL and REST paths. A preflight (OPTIONS with `Origin` and
 * `Access-Control-Request-Method`) is answered here, 204, with the CORS headers only for a listed origin.
 * Other requests go on; a listed origin's answer carries `Access-Control-Allow-Origin`, and every answer
 * `Vary: Origin`, since what it carries depends on it. GraphQL may write its answer to the socket itself
 * (router.ts), so the headers are also set on the node response before it does.
 */
export function corsPolicy(allowedOrigins: readonly string[]): MiddlewareHandler<{ Bindings: Partial<HttpBindings> }> {
  const allowed = new Set(allowedOrigins);
  return async (c, next) => {
    // Read from the node request when there is one: asking the router's request for a header builds all of them.
    const incoming = c.env?.incoming;
    const header = (name: string) => (incoming ? headerValue(incoming.headers[name]) : c.req.header(name));
    const origin = header('origin');
    const listed = origin !== undefined && allowed.has(origin);
    if (c.req.method === 'OPTIONS' && origin !== undefined && header('access-control-request-method') !== undefined) {
      const headers: Record<string, string> = { vary: 'Origin' };
      if (listed) {
        Object.assign(headers, {
          'access-control-allow-origin': origin,
          'access-control-allow-methods': ALLOWED_METHODS.join(', '),
          'access-control-allow-headers': ALLOWED_HEADERS.join(', '),
          'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
        });
      }
      return new Response(null, { status: 204, headers });
    }
    const headers: Record<string, string> = listed ? actualHeaders(origin) : {};
    const outgoing = c.env?.outgoing;
    if (outgoing && !outgoing.headersSent) setNodeHeaders(outgoing, headers);
    await next();
    // GraphQL wrote to the socket itself: its answer has the headers already, and c.res is a shared marker.
    if (c.res.headers.has('x-hono-already-sent')) return;
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    if (!/(^|,)\s*origin\s*(,|$)/i.test(c.res.headers.get('vary') ?? '')) c.res.headers.append('vary', 'Origin');
  };
}
