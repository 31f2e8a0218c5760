import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/db/database.js';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { issueApiKey, revokeApiKey } from '../src/modules/api-key/api-key.service.js';
import { findApiKeyRow, keyPrefix, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const VIEWER = '{ viewer { role organization { id slug name } apiKey { id name prefix } } }';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let gateway: TestGateway;
let org: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  org = gateway.world.acme;
});
afterAll(() => gateway.close());

/** A raw request, so that headers and body can be anything a client might send. */
async function send(headers: Record<string, string>, query = VIEWER, init: { method?: string; path?: string } = {}) {
  const method = init.method ?? 'POST';
  const response = await gateway.fetch(init.path ?? '/graphql', {
    method,
    headers: method === 'POST' ? { 'content-type': 'application/json', ...headers } : headers,
    ...(method === 'POST' ? { body: JSON.stringify({ query }) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

const randomKey = () => `igw_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function lastUsedAt(key: string): Promise<Date | null> {
  return (await findApiKeyRow(gateway.db, key)).last_used_at;
}

async function pollLastUsedAt(key: string, accept: (value: Date | null) => boolean): Promise<Date | null> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const value = await lastUsedAt(key);
    if (accept(value)) return value;
    await sleep(40);
  }
  return lastUsedAt(key);
}

describe('refused requests', () => {
  const cases: [string, () => Promise<{ header: string | null; presented: string[] }>][] = [
    ['no Authorization header', async () => ({ header: null, presented: [] })],
    ['an empty Bearer credential', async () => ({ header: 'Bearer ', presented: [] })],
    ['the Basic scheme with a real key', async () => ({ header: `Basic ${org.keys.ADMIN}`, presented: [org.keys.ADMIN] })],
    [
      'Basic user:password',
      async () => {
        const encoded = Buffer.from(`user:${org.keys.ADMIN}`).toString('base64');
        return { header: `Basic ${encoded}`, presented: [encoded, org.keys.ADMIN] };
      },
    ],
    ['a malformed key', async () => ({ header: 'Bearer not-a-key-at-all', presented: ['not-a-key-at-all'] })],
    ['a real key with trailing junk', async () => ({ header: `Bearer ${org.keys.ADMIN}x`, presented: [org.keys.ADMIN] })],
    [
      'a well-formed unknown key',
      async () => {
        const key = randomKey();
        return { header: `Bearer ${key}`, presented: [key, key.slice(17)] };
      },
    ],
    [
      'a real prefix with a wrong secret',
      async () => {
        const key = `${keyPrefix(org.keys.ADMIN)}_${randomBytes(32).toString('base64url')}`;
        return { header: `Bearer ${key}`, presented: [key, key.slice(17)] };
      },
    ],
    [
      'a revoked key',
      async () => {
        const issued = await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'ADMIN' });
        await revokeApiKey(gateway.db, org.organization.id, issued.apiKey.id);
        return { header: `Bearer ${issued.secret}`, presented: [issued.secret, issued.secret.slice(17)] };
      },
    ],
  ];

  it.each(cases)('%s: 401 UNAUTHENTICATED with a challenge, never echoing the key', async (_label, make) => {
    const { header, presented } = await make();
    const res = await send(header === null ? {} : { authorization: header });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+"$/);
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    const body = res.json();
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED' });
    for (const secret of presented) expect(res.text).not.toContain(secret);
    expect(res.text).not.toContain('igw_');
  });

  it('does not tell a real prefix with a wrong secret apart from an unknown key', async () => {
    const wrongSecret = await send({ authorization: `Bearer ${keyPrefix(org.keys.VIEWER)}_${randomBytes(32).toString('base64url')}` });
    const unknown = await send({ authorization: `Bearer ${randomKey()}` });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.text).toBe(unknown.text);
  });

  it('authenticates before parsing: an invalid document reveals nothing about the schema', async () => {
    const documents = [
      '{ viewr { role } }',
      '{ viewer { ',
      '{ __schema { types { name } } }',
      'mutation { createApiKey(input: {role: ADMIN}) { key } }',
    ];
    for (const document of documents) {
      const res = await send({}, document);
      expect(res.status, document).toBe(401);
      expect(res.json().errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(res.text).not.toMatch(/did you mean|viewer|Syntax Error|__schema|createApiKey/i);
    }
    // The same typo with a key is a validation error that does suggest: the 401 above hid it.
    const authed = await send({ authorization: `Bearer ${org.keys.VIEWER}` }, documents[0]);
    expect(authed.json().errors[0].message).toMatch(/Did you mean "viewer"/);
  });

  it('refuses GET requests without a key too', async () => {
    const res = await send({ accept: 'application/json' }, '', { method: 'GET', path: '/graphql?query=%7Bviewer%7Brole%7D%7D' });
    expect(res.status).toBe(401);
    expect(res.json().errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('accepted requests', () => {
  it.each(['VIEWER', 'EDITOR', 'ADMIN'] as Role[])('viewer describes the %s key that asked', async (role) => {
    const key = org.keys[role];
    const row = await findApiKeyRow(gateway.db, key);
    const res = await gateway.graphql(key, VIEWER);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.viewer).toEqual({
      role,
      organization: { id: encodeGlobalID('Organization', org.organization.id), slug: 'acme', name: 'Org acme' },
      apiKey: { id: encodeGlobalID('ApiKey', row.id), name: `${role.toLowerCase()} key`, prefix: keyPrefix(key) },
    });
    expect(JSON.stringify(res.body)).not.toContain(key);
  });

  it('accepts the scheme name in any case and surrounding blanks', async () => {
    for (const header of [`bearer ${org.keys.VIEWER}`, `BEARER \t${org.keys.VIEWER} `]) {
      const res = await send({ authorization: header }, '{ viewer { role } }');
      expect(res.status, header).toBe(200);
      expect(res.json().data.viewer.role).toBe('VIEWER');
    }
  });

  it('serves GraphiQL to a browser without a key', async () => {
    const res = await send({ accept: 'text/html' }, '', { method: 'GET' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toMatch(/graphiql/i);
    expect(res.headers.get('x-request-id')).toMatch(UUID);
  });
});

describe('request ids', () => {
  it('puts an x-request-id on every kind of response', async () => {
    const auth = { authorization: `Bearer ${org.keys.VIEWER}` };
    const responses = [
      await send(auth),
      await send({}),
      await send(auth, '{ nope }'),
      await send({}, '', { method: 'GET', path: '/health' }),
      await send({}, '', { method: 'GET', path: '/ready' }),
      await send({}, '', { method: 'GET', path: '/elsewhere' }),
    ];
    const ids = responses.map((res) => res.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('echoes a well-formed incoming X-Request-Id, on success and on refusal', async () => {
    const ok = await send({ authorization: `Bearer ${org.keys.VIEWER}`, 'x-request-id': 'trace-42.a:B_c' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-request-id')).toBe('trace-42.a:B_c');
    const refused = await send({ 'x-request-id': 'abc-123' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('abc-123');
    const health = await send({ 'x-request-id': 'lb-probe-1' }, '', { method: 'GET', path: '/health' });
    expect(health.headers.get('x-request-id')).toBe('lb-probe-1');
  });

  it('replaces an ill-formed incoming X-Request-Id with a fresh one', async () => {
    for (const offered of ['has spaces', 'x'.repeat(129), '<script>', 'a/b']) {
      const res = await send({ authorization: `Bearer ${org.keys.VIEWER}`, 'x-request-id': offered });
      expect(res.headers.get('x-request-id'), offered).toMatch(UUID);
    }
  });
});

describe('last use of a key', () => {
  it('is recorded after a request, in the background', async () => {
    const { secret } = await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'VIEWER' });
    expect(await lastUsedAt(secret)).toBeNull();
    const before = Date.now();
    expect((await gateway.graphql(secret, '{ viewer { role } }')).status).toBe(200);
    const recorded = await pollLastUsedAt(secret, (value) => value !== null);
    expect(recorded).not.toBeNull();
    expect(Math.abs((recorded as Date).getTime() - before)).toBeLessThan(10_000);
    const shown = await gateway.graphql(secret, '{ viewer { apiKey { lastUsedAt } } }');
    expect(new Date(shown.body.data.viewer.apiKey.lastUsedAt).getTime()).toBe((recorded as Date).getTime());
  });

  it('is not rewritten by further requests within a minute', async () => {
    const { secret } = await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'VIEWER' });
    await gateway.graphql(secret, '{ viewer { role } }');
    const first = await pollLastUsedAt(secret, (value) => value !== null);
    expect(first).not.toBeNull();
    gateway.statements.reset();
    for (let i = 0; i < 3; i += 1) expect((await gateway.graphql(secret, '{ viewer { role } }')).status).toBe(200);
    await sleep(300);
    expect(await lastUsedAt(secret)).toEqual(first);
    expect(gateway.statements.sql.filter((text) => /^update "api_keys"/i.test(text))).toEqual([]);
  });

  it('is recorded again once the last record is over a minute old', async () => {
    const { secret, apiKey } = await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'VIEWER' });
    const stale = new Date(Date.now() - 5 * 60_000);
    await gateway.db.updateTable('api_keys').set({ last_used_at: stale }).where('id', '=', apiKey.id).execute();
    await gateway.graphql(secret, '{ viewer { role } }');
    const refreshed = await pollLastUsedAt(secret, (value) => value !== null && value.getTime() > stale.getTime());
    expect((refreshed as Date).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });
});
