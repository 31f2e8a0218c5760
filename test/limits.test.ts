import { request as httpRequest } from 'node:http';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { insertHealthChecks, insertIntegrations, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';

/** The deepest real query: a page of integrations with a page of health checks each (7 fields deep). */
const NESTED = `query Nested($first: Int!, $checks: Int!) {
  integrations(first: $first) {
    totalCount
    edges { node { id displayName healthChecks(first: $checks) { edges { node { ok checkedAt } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** Cost of NESTED: 1 + first × (edges 1 + node 1 + healthChecks (1 + checks × (edges 1 + node 1)) + pageInfo 1). */
const nestedCost = (first: number, checks: number) => 1 + first * (1 + 1 + (1 + checks * 2) + 1);

/** Five fields deep; costs 1 + first × (edges 1 + node 1 + provider 1). */
const FLAT = 'query Flat($first: Int!) { integrations(first: $first) { edges { node { id provider { key } } } } }';

let gateway: TestGateway;
let strict: TestGateway;
let org: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  org = gateway.world.acme;
  const rows = await insertIntegrations(gateway.db, org.organization.id, 12, (i) => ({ displayName: `Limited ${i}` }));
  for (const row of rows.slice(0, 3)) await insertHealthChecks(gateway.db, org.organization.id, row.id, 4);
  // Same database, tight limits: the same keys work on both.
  strict = await createTestGateway({
    database: gateway.database,
    listen: true,
    hardening: {
      queryLimits: { maxCost: 100, maxDepth: 6, maxAliases: 3, maxTokens: 200, maxDirectives: 2 },
      introspection: false,
      hideSuggestions: true,
      maxRequestBodyBytes: 2048,
    },
  });
});
afterAll(async () => {
  await strict?.close();
  await gateway?.close();
});

function expectRefused(res: { status: number; body: any }, code: string) {
  expect(res.status).toBe(400);
  expect(res.body.data).toBeUndefined();
  expect(res.body.errors).toHaveLength(1);
  expect(res.body.errors[0].extensions.code).toBe(code);
  return res.body.errors[0];
}

describe('cost', () => {
  it('reports the requested cost and the per-operation maximum on every answer', async () => {
    const res = await gateway.graphql(org.keys.VIEWER, '{ viewer { role } }');
    expect(res.status).toBe(200);
    expect(res.body.extensions).toEqual({ cost: { requested: 1, maximum: 25_000 } });
  });

  it('multiplies the cost of a subtree by first/last, as GitHub and Shopify count', async () => {
    for (const [first, checks] of [
      [1, 1],
      [10, 5],
      [10, 50],
      [100, 100],
    ] as const) {
      const res = await gateway.graphql(org.keys.VIEWER, NESTED, { first, checks });
      expect(res.status, `${first}×${checks}`).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.extensions.cost.requested, `${first}×${checks}`).toBe(nestedCost(first, checks));
    }
    // The example of the README.
    const readme = await gateway.graphql(
      org.keys.VIEWER,
      '{ integrations(first: 100) { edges { node { id healthChecks(first: 5) { edges { node { ok } } } } } } }',
    );
    expect(readme.body.extensions.cost.requested).toBe(1_301);
    const backwards = await gateway.graphql(org.keys.VIEWER, '{ integrations(last: 7) { edges { node { id } } } }');
    expect(backwards.body.extensions.cost.requested).toBe(1 + 7 * 2);
  });

  it('counts nodes(ids:) by its number of IDs, and an oversized page as the largest page', async () => {
    const ids = await gateway.graphql(org.keys.VIEWER, '{ integrations(first: 3) { edges { node { id } } } }');
    const globalIds = ids.body.data.integrations.edges.map((edge: any) => edge.node.id);
    const nodes = await gateway.graphql(
      org.keys.VIEWER,
      'query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Integration { provider { key } } } }',
      { ids: globalIds },
    );
    // The list's elements are not counted themselves, like a connection's nodes; their objects are.
    expect(nodes.body.extensions.cost.requested).toBe(1 + 3 * 1);
    // first: 500 fails in its resolver with the connection's own code, not with a cost error.
    const oversized = await gateway.graphql(org.keys.VIEWER, '{ integrations(first: 500) { edges { node { id } } } }');
    expect(oversized.body.errors[0].extensions.code).toBe('EXCESSIVE_PAGINATION');
    expect(oversized.body.extensions.cost.requested).toBe(1 + 100 * 2);
  });

  it('refuses an operation over the cost limit with the numbers, before running anything', async () => {
    strict.statements.reset();
    gateway.statements.reset();
    const res = await strict.graphql(org.keys.VIEWER, FLAT, { first: 34 });
    const error = expectRefused(res, 'MAX_COST_EXCEEDED');
    expect(error.extensions).toEqual({ code: 'MAX_COST_EXCEEDED', limit: 100, requested: 1 + 34 * 3 });
    expect(error.message).toContain(`${1 + 34 * 3}`);
    expect(res.body.extensions.cost).toEqual({ requested: 1 + 34 * 3, maximum: 100 });
    // Only authentication ran (the shared database counts the strict gateway's statements too).
    expect(gateway.statements.sql.filter((text) => !/from "api_keys"/.test(text))).toEqual([]);
    const cheap = await strict.graphql(org.keys.VIEWER, FLAT, { first: 33 });
    expect(cheap.status).toBe(200);
    expect(cheap.body.extensions.cost.requested).toBe(100);
    expect(cheap.body.data.integrations.edges).toHaveLength(12);
  });

  it('answers application/json clients with 200 and the same error, as for validation errors', async () => {
    const res = await sendGraphQL(strict, {
      key: org.keys.VIEWER,
      query: FLAT,
      variables: { first: 50 },
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.body.errors[0].extensions.code).toBe('MAX_COST_EXCEEDED');
  });
});

describe('depth', () => {
  it('lets the real nested query through with the default limit of 15', async () => {
    const res = await gateway.graphql(org.keys.VIEWER, NESTED, { first: 5, checks: 5 });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });

  it('refuses an operation nested deeper than the limit, with the numbers', async () => {
    const error = expectRefused(await strict.graphql(org.keys.VIEWER, NESTED, { first: 1, checks: 1 }), 'MAX_DEPTH_EXCEEDED');
    expect(error.extensions).toEqual({ code: 'MAX_DEPTH_EXCEEDED', limit: 6, found: 7 });
    const shallower = await strict.graphql(
      org.keys.VIEWER,
      '{ integrations(first: 1) { edges { node { healthChecks(first: 1) { edges { cursor } } } } } }',
    );
    expect(shallower.status).toBe(200);
  });
});

describe('document limits', () => {
  it('refuses too many aliases, counting through fragments', async () => {
    const aliases = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: viewer { role }`).join(' ');
    expect((await strict.graphql(org.keys.VIEWER, `{ ${aliases(3)} }`)).status).toBe(200);
    const error = expectRefused(
      await strict.graphql(org.keys.VIEWER, `{ ${aliases(2)} ...F } fragment F on Query { ${aliases(2)} }`),
      'MAX_ALIASES_EXCEEDED',
    );
    expect(error.extensions).toEqual({ code: 'MAX_ALIASES_EXCEEDED', limit: 3, found: 4 });
    // The default allows 30.
    expect((await gateway.graphql(org.keys.VIEWER, `{ ${aliases(30)} }`)).status).toBe(200);
    expect(expectRefused(await gateway.graphql(org.keys.VIEWER, `{ ${aliases(31)} }`), 'MAX_ALIASES_EXCEEDED').extensions.found).toBe(31);
  });

  it('refuses a document of too many tokens while parsing it', async () => {
    const fields = (n: number) => Array.from({ length: n }, () => '__typename').join(' ');
    // Unknown fields: tokens are counted while parsing, before any validation.
    const error = expectRefused(await strict.graphql(org.keys.VIEWER, `{ ${'x '.repeat(250)} }`), 'MAX_TOKENS_EXCEEDED');
    expect(error.extensions).toEqual({ code: 'MAX_TOKENS_EXCEEDED', limit: 200 });
    const under = await strict.graphql(org.keys.VIEWER, `{ ${fields(90)} }`);
    expect(under.status, JSON.stringify(under.body)).toBe(200);
    expect(expectRefused(await gateway.graphql(org.keys.VIEWER, `{ ${fields(2_100)} }`), 'MAX_TOKENS_EXCEEDED').extensions.limit).toBe(
      2_000,
    );
  });

  it('refuses too many directives', async () => {
    const error = expectRefused(
      await strict.graphql(
        org.keys.VIEWER,
        '{ viewer @include(if: true) { role @include(if: true) organization @skip(if: false) { slug } } }',
      ),
      'MAX_DIRECTIVES_EXCEEDED',
    );
    expect(error.extensions).toEqual({ code: 'MAX_DIRECTIVES_EXCEEDED', limit: 2, found: 3 });
    const many = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: viewer @include(if: true) { role }`).join(' ');
    expect((await gateway.graphql(org.keys.VIEWER, `{ ${many(20)} }`)).status).toBe(200);
    expect(expectRefused(await gateway.graphql(org.keys.VIEWER, `{ ${many(21)} }`), 'MAX_DIRECTIVES_EXCEEDED').extensions).toMatchObject({
      limit: 20,
      found: 21,
    });
  });

  it('lets the GraphiQL introspection query through the default limits', async () => {
    const res = await gateway.graphql(org.keys.VIEWER, getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }));
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.__schema.queryType.name).toBe('Query');
  });
});

describe('schema exposure', () => {
  it('refuses introspection when it is turned off', async () => {
    const res = await strict.graphql(org.keys.VIEWER, '{ __schema { queryType { name } } }');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toMatch(/introspection/i);
    expect((await strict.graphql(org.keys.VIEWER, '{ __typename }')).status).toBe(200);
  });

  it('hides "Did you mean" suggestions when asked, in validation and variable errors', async () => {
    const typo = await strict.graphql(org.keys.VIEWER, '{ viewr { role } integrations(firts: 1) { totalCount } }');
    expect(typo.status).toBe(400);
    expect(typo.body.errors.length).toBeGreaterThan(0);
    for (const error of typo.body.errors) expect(error.message).not.toMatch(/did you mean|"viewer"|"first"/i);
    const enumValue = await strict.graphql(
      org.keys.VIEWER,
      'query($s: [IntegrationStatus!]) { integrations(first: 1, filter: {statuses: $s}) { totalCount } }',
      { s: ['ACTIVF'] },
    );
    expect(enumValue.body.errors[0].message).toMatch(/ACTIVF/);
    expect(enumValue.body.errors[0].message).not.toMatch(/did you mean|"ACTIVE"/i);
    // Development keeps them (the default gateway).
    expect((await gateway.graphql(org.keys.VIEWER, '{ viewr { role } }')).body.errors[0].message).toMatch(/Did you mean "viewer"/);
  });
});

describe('request shape', () => {
  const auth = () => ({ authorization: `Bearer ${org.keys.VIEWER}` });

  it('refuses a body over the size limit with 413', async () => {
    const padding = 'x'.repeat(3000);
    const res = await strict.fetch('/graphql', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: `{ viewer { role } } # ${padding}` }),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
  });

  it('refuses a body whose Content-Length is over the limit, or is not a number, before reading it', async () => {
    const headers = { ...auth(), 'content-type': 'application/json', accept: 'application/graphql-response+json' };
    const small = JSON.stringify({ query: '{ viewer { role } }' });
    const over = await strict.fetch('/graphql', { method: 'POST', headers: { ...headers, 'content-length': '4096' }, body: small });
    expect(over.status).toBe(413);
    expect((await over.json()).errors[0].extensions).toMatchObject({ code: 'REQUEST_ENTITY_TOO_LARGE', limit: 2048 });
    for (const length of ['12abc', '-1', '10, 10']) {
      const invalid = await strict.fetch('/graphql', { method: 'POST', headers: { ...headers, 'content-length': length }, body: small });
      expect(invalid.status).toBe(400);
      expect((await invalid.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
    }
    const within = await strict.fetch('/graphql', {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(small)) },
      body: small,
    });
    expect(within.status).toBe(200);
    expect((await within.json()).data.viewer.role).toBe('VIEWER');
  });

  it('counts a chunked body (no Content-Length) over a real socket and refuses it once it passes the limit', async () => {
    const { port } = strict;
    const post = (chunks: string[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/graphql',
            method: 'POST',
            headers: { ...auth(), 'content-type': 'application/json', accept: 'application/graphql-response+json' },
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          },
        );
        request.on('error', reject);
        for (const chunk of chunks) request.write(chunk);
        request.end();
      });
    const query = JSON.stringify({ query: '{ viewer { role } }' });
    const within = await post([query.slice(0, 10), query.slice(10)]);
    expect(within.status).toBe(200);
    expect(JSON.parse(within.body).data.viewer.role).toBe('VIEWER');
    const over = await post([`{"query":"{ viewer { role } } #`, 'x'.repeat(1500), 'x'.repeat(1500), '"}']);
    expect(over.status).toBe(413);
    expect(JSON.parse(over.body).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
  });

  it('refuses batched requests', async () => {
    const res = await gateway.fetch('/graphql', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify([{ query: '{ viewer { role } }' }, { query: '{ viewer { role } }' }]),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).not.toContain('VIEWER');
  });

  it('serves a GET carrying a Bearer key without a CSRF header (it cannot be forged), and JSON posts', async () => {
    const url = `/graphql?query=${encodeURIComponent('{ viewer { role } }')}`;
    const plain = await gateway.fetch(url, { headers: { ...auth(), accept: 'application/graphql-response+json' } });
    expect(plain.status).toBe(200);
    expect((await plain.json()).data.viewer.role).toBe('VIEWER');
    const marked = await gateway.fetch(url, {
      headers: { ...auth(), accept: 'application/graphql-response+json', 'x-graphql-yoga-csrf': '1' },
    });
    expect((await marked.json()).data.viewer.role).toBe('VIEWER');
    // Without a key, a GET is still a 401: nothing is revealed before authentication.
    expect((await gateway.fetch(url, { headers: { accept: 'application/json' } })).status).toBe(401);
  });
});

describe('configuration', () => {
  const production = { NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') };

  it('closes GraphiQL, introspection and suggestions in production, and opens them elsewhere', () => {
    expect(loadConfig(production).hardening).toMatchObject({ graphiql: false, introspection: false, hideSuggestions: true });
    expect(loadConfig({}).hardening).toMatchObject({
      graphiql: true,
      introspection: true,
      hideSuggestions: false,
      tracesExporter: 'none',
    });
    expect(loadConfig({ ...production, GRAPHIQL: 'true', INTROSPECTION: '1', HIDE_SUGGESTIONS: 'false' }).hardening).toMatchObject({
      graphiql: true,
      introspection: true,
      hideSuggestions: false,
    });
  });

  it('reads limits and budgets, and refuses values out of range with the variable named', () => {
    const config = loadConfig({
      QUERY_MAX_COST: '500',
      QUERY_MAX_DEPTH: '12',
      RATE_LIMIT_API_KEY_POINTS: '0',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(config.hardening.queryLimits).toEqual({ maxCost: 500, maxDepth: 12, maxAliases: 30, maxTokens: 2_000, maxDirectives: 20 });
    expect(config.hardening.rateLimit).toMatchObject({
      enabled: true,
      apiKeyPoints: 0,
      organizationPoints: 300_000,
      redisUrl: 'redis://127.0.0.1:6379',
    });
    expect(() => loadConfig({ QUERY_MAX_DEPTH: '9' })).toThrow(/QUERY_MAX_DEPTH/);
    expect(() => loadConfig({ REDIS_URL: 'http://cache' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
  });
});
