import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/**
 * Browsers may call GraphQL and the REST API from the exact origins configured, with credentials off;
 * any other origin gets no CORS header, so its page cannot read an answer. One policy for both APIs,
 * whether GraphQL answers through the router or writes to the socket itself (a real port).
 */
const ALLOWED = 'https://app.example.com';
const REFUSED = 'https://evil.example.net';
let gw: TestGateway;

beforeAll(async () => {
  gw = await createTestGateway({ world: true, listen: true, corsAllowedOrigins: [ALLOWED, 'http://localhost:5173'] });
}, 120_000);
afterAll(() => gw?.close());

const corsHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));
const varies = (response: Response) => (response.headers.get('vary') ?? '').split(',').map((part) => part.trim().toLowerCase());

/** In process (the router's Response) and over a real port (Yoga writes GraphQL's answer to the socket). */
const transports = [
  ['in process', (path: string, init: RequestInit) => gw.fetch(path, init)],
  ['over a port', (path: string, init: RequestInit) => fetch(`${gw.url}${path}`, init)],
] as const;

const preflight = (origin: string, method = 'POST') => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
});

describe.each(transports)('CORS (%s)', (_name, send) => {
  it('answers a preflight from a listed origin: its origin, methods and headers, no credentials', async () => {
    for (const [path, method] of [
      ['/graphql', 'POST'],
      ['/v1/integrations', 'GET'],
      ['/integrations/abc', 'DELETE'],
    ] as const) {
      const response = await send(path, preflight(ALLOWED, method));
      expect(response.status, path).toBe(204);
      const headers = corsHeaders(response);
      expect(headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(headers['access-control-allow-methods']?.split(', ')).toContain(method);
      expect(headers['access-control-allow-headers']?.split(', ')).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']),
      );
      expect(headers['access-control-allow-credentials']).toBeUndefined();
      expect(varies(response)).toContain('origin');
    }
  });

  it('lets a listed origin read answers of GraphQL and REST, exposing the gateway headers', async () => {
    const headers = { origin: ALLOWED, authorization: `Bearer ${gw.world.acme.keys.VIEWER}` };
    const graphql = await send('/graphql', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    const rest = await send('/v1/integrations', { headers });
    for (const response of [graphql, rest]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect(response.headers.get('access-control-expose-headers')?.split(', ')).toEqual(
        expect.arrayContaining(['x-request-id', 'x-ratelimit-remaining', 'retry-after']),
      );
      expect(varies(response)).toContain('origin');
      await response.body?.cancel();
    }
    // A refusal is readable too, so that the page can tell the user to sign in again.
    const refused = await send('/graphql', {
      method: 'POST',
      headers: { origin: ALLOWED, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    await refused.body?.cancel();
  });

  it('gives an origin not listed, or none, no CORS header at all', async () => {
    for (const path of ['/graphql', '/v1/integrations']) {
      const response = await send(path, preflight(REFUSED));
      expect(response.status).toBe(204);
      expect(corsHeaders(response)).toEqual({});
      expect(varies(response)).toContain('origin');
    }
    const key = `Bearer ${gw.world.acme.keys.VIEWER}`;
    const cases: Record<string, string>[] = [
      { origin: REFUSED, authorization: key },
      { origin: 'null', authorization: key },
      { authorization: key },
    ];
    for (const headers of cases) {
      const graphql = await send('/graphql', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      const rest = await send('/v1/integrations', { headers });
      for (const response of [graphql, rest]) {
        expect(response.status).toBe(200);
        expect(corsHeaders(response), JSON.stringify(headers)).toEqual({});
        expect(varies(response)).toContain('origin');
        await response.body?.cancel();
      }
    }
  });

  it('keeps the CSRF rule: a request without a Bearer credential is refused whatever its origin', async () => {
    const query = encodeURIComponent('{ viewer { role } }');
    const cases: Record<string, string>[] = [
      { origin: ALLOWED },
      { origin: ALLOWED, authorization: 'Basic dXNlcjpwYXNz' },
      { origin: REFUSED, cookie: 's=1' },
    ];
    for (const headers of cases) {
      const response = await send(`/graphql?query=${query}`, { headers: { ...headers, accept: 'application/json' } });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      await response.body?.cancel();
    }
  });
});
