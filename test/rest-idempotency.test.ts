import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// Idempotency-Key on every mutating REST path: one run, its answer replayed byte for byte, 409 while it
// runs, 422 for another request, with the same stored keys as GraphQL.

let w: RestWorld;
beforeAll(async () => {
  w = await createRestWorld();
});
afterAll(() => w.close());
beforeEach(() => w.gw.fake.reset());

interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

/** A raw request, so that answers can be compared byte for byte. */
async function send(method: string, path: string, key: string | null, body?: unknown, role: 'EDITOR' | 'ADMIN' = 'EDITOR'): Promise<Sent> {
  const headers: Record<string, string> = { authorization: `Bearer ${w.gw.world.acme.keys[role]}` };
  if (key !== null) headers['idempotency-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await w.raw(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const count = async (table: 'integrations' | 'integration_health_checks') =>
  Number(
    (
      await w.gw.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .executeTakeFirstOrThrow()
    ).count,
  );

async function connected(): Promise<string> {
  const res = await w.as('EDITOR').POST('/integrations', { body: w.tokenConnect('gitlab') });
  return res.data?.data.id as string;
}

describe('Idempotency-Key', () => {
  it('POST /integrations: connects once; a retry replays the answer byte for byte, from /v1 or unprefixed', async () => {
    const key = randomUUID();
    const body = w.tokenConnect('gitlab');
    const before = await count('integrations');
    const first = await send('POST', '/v1/integrations', key, body);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    for (const path of ['/v1/integrations', '/integrations']) {
      const again = await send('POST', path, key, body);
      expect(again.status).toBe(201);
      expect(again.text).toBe(first.text);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('location')).toBe(first.headers.get('location'));
      expect(again.headers.get('content-type')).toBe('application/json');
    }
    expect(await count('integrations')).toBe(before + 1);

    // The same key with another body is another request: 422, nothing run.
    const other = await send('POST', '/v1/integrations', key, { ...body, display_name: 'Another' });
    expect(other.status).toBe(422);
    expect(JSON.parse(other.text)).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // So is the same key from another API key of the organization.
    const admin = await send('POST', '/v1/integrations', key, body, 'ADMIN');
    expect(JSON.parse(admin.text)).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await count('integrations')).toBe(before + 1);
  });

  it('PATCH, DELETE and POST …/test run once per key and replay their answers', async () => {
    const id = await connected();
    const patch = { webhook: { url: 'https://hooks.example.com/a', enabled: true, rotate_secret: true } };
    const patchKey = randomUUID();
    const patched = await send('PATCH', `/v1/integrations/${id}`, patchKey, patch);
    const patchedAgain = await send('PATCH', `/v1/integrations/${id}`, patchKey, patch);
    expect([patched.status, patchedAgain.status]).toEqual([200, 200]);
    // The rotated secret is the first answer's, replayed to the holder of the same API key; not a second rotation.
    expect(patchedAgain.text).toBe(patched.text);
    expect(patchedAgain.headers.get('idempotent-replayed')).toBe('true');

    const testKey = randomUUID();
    const checks = await count('integration_health_checks');
    const tested = await send('POST', `/v1/integrations/${id}/test`, testKey);
    const testedAgain = await send('POST', `/v1/integrations/${id}/test`, testKey);
    expect(tested.status).toBe(200);
    expect(testedAgain.text).toBe(tested.text);
    expect(await count('integration_health_checks')).toBe(checks + 1);

    const revokeKey = randomUUID();
    const revoked = await send('DELETE', `/v1/integrations/${id}`, revokeKey);
    const revokedAgain = await send('DELETE', `/v1/integrations/${id}`, revokeKey);
    expect(revoked.status).toBe(200);
    expect(revokedAgain.text).toBe(revoked.text);
    expect(revokedAgain.headers.get('idempotent-replayed')).toBe('true');
    // The key of the test, for the revocation: another request.
    const reused = await send('DELETE', `/v1/integrations/${id}`, testKey);
    expect(JSON.parse(reused.text)).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('answers 409 with Retry-After while the first request with the key still runs', async () => {
    w.gw.fake.fault('gitlab', 'api', { delayMs: 700 });
    const key = randomUUID();
    const body = w.tokenConnect('gitlab');
    const first = send('POST', '/v1/integrations', key, body);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const during = await send('POST', '/v1/integrations', key, body);
    expect(during.status).toBe(409);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(during.text)).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' });
    const done = await first;
    expect(done.status).toBe(201);
    const after = await send('POST', '/v1/integrations', key, body);
    expect(after.text).toBe(done.text);
  });

  it('refuses a malformed key before anything runs, and a failed validation leaves the key free', async () => {
    const before = await count('integrations');
    const invalid = await send('POST', '/v1/integrations', 'x'.repeat(300), w.tokenConnect('gitlab'));
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.text)).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', errors: [{ pointer: '/header/idempotency-key' }] });
    const key = randomUUID();
    const malformed = await send('POST', '/v1/integrations', key, { provider: 1 });
    expect(malformed.status).toBe(400);
    const fixed = await send('POST', '/v1/integrations', key, w.tokenConnect('gitlab'));
    expect(fixed.status).toBe(201);
    expect(await count('integrations')).toBe(before + 1);
  });

  it('keeps REST and GraphQL requests apart: a key used by a GraphQL mutation is 422 over REST', async () => {
    const id = await connected();
    const key = randomUUID();
    const graphql = await w.gw.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${w.gw.world.acme.keys.EDITOR}`, 'idempotency-key': key },
      body: JSON.stringify({
        query: 'mutation($id: ID!) { testIntegration(input: { id: $id }) { userErrors { code } } }',
        variables: { id },
      }),
    });
    expect(graphql.status).toBe(200);
    const rest = await send('POST', `/v1/integrations/${id}/test`, key);
    expect(JSON.parse(rest.text)).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
  });
});
