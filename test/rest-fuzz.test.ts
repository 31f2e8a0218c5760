import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// Malformed REST requests, generated from a seed (REST_FUZZ_SEED, else FUZZ_SEED, replays a run; REST_FUZZ_COUNT,
// else FUZZ_COUNT as `npm run test:fuzz` sets it, says how many): malformed JSON, wrong
// media types, huge and deep bodies, wrong types and unknown members, bad cursors and IDs. Each gets a
// clear 4xx problem, never a 5xx, and nothing in the database changes.

const COUNT = Number(process.env.REST_FUZZ_COUNT ?? process.env.FUZZ_COUNT ?? 300);
const SEED = Number(process.env.REST_FUZZ_SEED ?? process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

let w: RestWorld;
let ids: string[];
beforeAll(async () => {
  w = await createRestWorld();
  const connected = await w.as('EDITOR').POST('/integrations', { body: w.tokenConnect('gitlab') });
  ids = [connected.data?.data.id as string];
});
afterAll(() => w.close());

/** mulberry32: small, seedable, good enough to pick cases. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function snapshot(): Promise<string> {
  const rows = await w.gw.db.selectFrom('integrations').selectAll().orderBy('id').execute();
  const events = await w.gw.db.selectFrom('integration_events').select('id').execute();
  const checks = await w.gw.db.selectFrom('integration_health_checks').select('id').execute();
  return createHash('sha256')
    .update(JSON.stringify([rows, events.length, checks.length]))
    .digest('hex');
}

// A request takes a few milliseconds; the bound scales with the count, as the GraphQL fuzz suite's does.
const timeout = Math.max(60_000, COUNT * 60);

describe('REST fuzz', () => {
  it(`answers ${COUNT} malformed requests with 4xx problems and changes nothing (seed ${SEED})`, { timeout }, async () => {
    const next = random(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const junkValue = (depth = 0): unknown =>
      pick([
        () => null,
        () => next() > 0.5,
        () => Math.floor(next() * 1e6) - 5e5,
        () => 'x'.repeat(Math.floor(next() * 50)),
        () => '\u0000\ud800',
        () => (depth < 3 ? [junkValue(depth + 1), junkValue(depth + 1)] : []),
        () => (depth < 3 ? { [pick(['provider', 'webhook', 'credentials', 'auth_kind', 'zz'])]: junkValue(depth + 1) } : {}),
      ])();
    // Every object carries a member no schema has, or a value of the wrong type: no body is a valid request.
    const junkBody = (): string =>
      pick([
        () => '{"provider": ',
        () => 'not json at all',
        () => '',
        () => JSON.stringify(junkValue()),
        () => JSON.stringify({ unknown_member: junkValue(), [pick(['provider', 'display_name', 'refresh_tokens'])]: junkValue() }),
        () => JSON.stringify({ webhook: { url: junkValue(), surprise: 1 } }),
        () => `${'['.repeat(5000)}${']'.repeat(5000)}`,
        () => JSON.stringify({ display_name: 'x'.repeat(150_000) }),
      ])();
    const idLike = () =>
      pick([
        ids[0] as string,
        'nope',
        '',
        encodeGlobalID('Organization', '00000000-0000-0000-0000-000000000000'),
        '%00',
        'a'.repeat(300),
        '..%2F..',
      ]);
    const query = () =>
      pick([
        'limit=0',
        'limit=-1',
        'limit=1e9',
        'limit=abc',
        'cursor=%%%',
        `cursor=${'A'.repeat(2000)}`,
        `cursor=${Buffer.from('["integrations:CREATED_AT:ASC","now","x"]').toString('base64url')}`,
        'order=sideways',
        'status=dormant',
        'health=',
        'include=everything',
        'search=%00',
        'limit=5&limit=6',
      ]);
    const contentType = () =>
      pick([
        'application/json',
        'application/merge-patch+json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        '',
      ]);

    const before = await snapshot();
    for (let i = 0; i < COUNT; i += 1) {
      const kind = pick(['list', 'get', 'connect', 'patch', 'delete', 'test'] as const);
      const headers: Record<string, string> = { authorization: `Bearer ${w.gw.world.acme.keys.EDITOR}` };
      let method = 'GET';
      let path = `/v1/integrations?${query()}`;
      let body: string | undefined;
      if (kind === 'get') path = `/v1/integrations/${encodeURIComponent(idLike())}`;
      if (kind === 'delete' || kind === 'test') {
        method = kind === 'delete' ? 'DELETE' : 'POST';
        // Only IDs that name nothing of this organization: a valid one would run.
        const id = pick(['nope', encodeGlobalID('Integration', '00000000-0000-0000-0000-000000000000')]);
        path = `/v1/integrations/${encodeURIComponent(id)}${kind === 'test' ? '/test' : ''}`;
      }
      if (kind === 'connect' || kind === 'patch') {
        method = kind === 'connect' ? 'POST' : 'PATCH';
        path = kind === 'connect' ? '/v1/integrations' : `/v1/integrations/${encodeURIComponent(idLike())}`;
        body = junkBody();
        const type = contentType();
        if (type) headers['content-type'] = type;
      }
      if (next() < 0.1) headers['idempotency-key'] = pick(['', 'x'.repeat(300), 'ok-key', '\u00e9']);
      const res = await w.raw(path, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      const label = `seed ${SEED} #${i}: ${method} ${path.slice(0, 80)} ${body?.slice(0, 60) ?? ''}`;
      expect(res.status, label).toBeLessThan(500);
      // A read may succeed (an empty filter, the existing ID); every write here is malformed.
      if ((kind === 'list' || kind === 'get') && res.status === 200) continue;
      expect(res.status, label).toBeGreaterThanOrEqual(400);
      expect(res.headers.get('content-type'), label).toBe('application/problem+json');
      const problem = JSON.parse(text);
      expect(problem, label).toMatchObject({ status: res.status, code: expect.any(String), detail: expect.any(String) });
      expect(text, label).not.toContain(w.gw.world.acme.keys.EDITOR);
    }
    expect(await snapshot()).toBe(before);
  });
});
