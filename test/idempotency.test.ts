import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../src/modules/api-key/api-key.service.js';
import { countApiKeys, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';

const CREATE =
  'mutation Create($input: CreateApiKeyInput!) { createApiKey(input: $input) ' +
  '{ apiKey { id name role } key userErrors { code message field } } }';
const REVOKE =
  'mutation Revoke($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id revokedAt } userErrors { code message field } } }';

describe('Idempotency-Key on mutations', () => {
  let gateway: TestGateway;
  let acme: OrgFixture;
  let globex: OrgFixture;

  beforeAll(async () => {
    gateway = await createTestGateway({ world: true });
    ({ acme, globex } = gateway.world);
  });
  afterAll(() => gateway.close());

  const send = (
    idempotencyKey: string | undefined,
    variables: Record<string, unknown>,
    options: { query?: string; apiKey?: string | null } = {},
  ) =>
    sendGraphQL(gateway, {
      key: options.apiKey === undefined ? acme.keys.ADMIN : options.apiKey,
      query: options.query ?? CREATE,
      variables,
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    });
  const create = (name: string) => ({ input: { role: 'VIEWER', name } });
  const keyRows = (key: string) => gateway.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).execute();
  const acmeKeys = () => countApiKeys(gateway.db, acme.organization.id);

  it('replays the stored status, content type and body byte for byte, creating exactly one key', async () => {
    const key = randomUUID();
    const before = await acmeKeys();
    const first = await send(key, create('ci'));
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(first.body.data.createApiKey.key).toMatch(/^igw_/);

    const again = await send(key, create('ci'));
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(await acmeKeys()).toBe(before + 1);

    // The one-time secret is replayable to its caller but not readable in the database.
    const [row] = await keyRows(key);
    expect(row).toMatchObject({
      state: 'COMPLETED',
      response_status: 200,
      response_headers: { 'content-type': first.headers.get('content-type') },
    });
    expect(row?.response_body).not.toContain(first.body.data.createApiKey.key);
    expect(row?.response_body).not.toContain('createApiKey');
  });

  it('answers 50 concurrent requests with one key with one execution: the stored response or 409', async () => {
    const key = randomUUID();
    const before = await acmeKeys();
    const answers = await Promise.all(Array.from({ length: 50 }, () => send(key, create('burst'))));
    expect(await acmeKeys()).toBe(before + 1);
    const ran = answers.filter((a) => a.status === 200 && a.headers.get('idempotent-replayed') === null);
    expect(ran).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === 409) {
        expect(answer.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_IN_USE');
        expect(answer.headers.get('retry-after')).toBe('1');
      } else {
        expect(answer.status).toBe(200);
        expect(answer.text).toBe(ran[0]?.text);
      }
    }
    const replay = await send(key, create('burst'));
    expect(replay.text).toBe(ran[0]?.text);
  });

  it('refuses the key for a different request with 422 and runs nothing; variable order does not matter', async () => {
    const key = randomUUID();
    const first = await send(key, { input: { role: 'VIEWER', name: 'one' } });
    const before = await acmeKeys();
    const reordered = await send(key, { input: { name: 'one', role: 'VIEWER' } });
    expect(reordered.text).toBe(first.text);
    for (const other of [
      send(key, create('two')),
      send(key, create('one'), { query: CREATE.replace('mutation Create', 'mutation CreateAgain') }),
    ]) {
      const refused = await other;
      expect(refused.status).toBe(422);
      expect(refused.body.errors).toEqual([
        { message: expect.stringContaining('different request'), extensions: { code: 'IDEMPOTENCY_KEY_REUSED' } },
      ]);
    }
    expect(await acmeKeys()).toBe(before);
  });

  it('refuses an invalid header with 400 and changes nothing; 255 characters and the quoted form are fine', async () => {
    const before = await acmeKeys();
    for (const bad of ['', 'x'.repeat(256), 'tab\there', 'del\x7f', 'bell\x07', 'caf\u00e9']) {
      const refused = await send(bad, create('bad'));
      expect(refused.status, JSON.stringify(bad)).toBe(400);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_INVALID');
      expect(refused.body.errors?.[0]?.message).toContain('Idempotency-Key');
    }
    expect(await acmeKeys()).toBe(before);
    expect(await gateway.db.selectFrom('idempotency_keys').select('key').where('key', 'in', ['', 'tab\there']).execute()).toEqual([]);

    const long = 'k'.repeat(255);
    expect((await send(long, create('long'))).status).toBe(200);
    const quoted = randomUUID();
    const bare = await send(quoted, create('quoted'));
    const asSfString = await send(`"${quoted}"`, create('quoted'));
    expect(asSfString.headers.get('idempotent-replayed')).toBe('true');
    expect(asSfString.text).toBe(bare.text);
  });

  it('stores nothing for a request that fails before running, so the same key works once it is fixed', async () => {
    const key = randomUUID();
    expect((await send(key, create('x'), { apiKey: null })).status).toBe(401);
    expect((await send(key, create('x'), { apiKey: `igw_000000000000_${'a'.repeat(43)}` })).status).toBe(401);
    expect((await send(key, create('x'), { query: 'mutation {' })).status).toBe(400);
    expect((await send(key, create('x'), { query: 'mutation { createApiKey(input: { role: VIEWER }) { nope } }' })).status).toBe(400);
    const badVariables = await send(key, { input: { role: 'SUPERUSER' } });
    expect(badVariables.body.errors?.[0]?.message).toContain('SUPERUSER');
    expect(badVariables.body.data).toBeUndefined();
    expect(await keyRows(key)).toEqual([]);

    const fixed = await send(key, create('fixed'));
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    expect(fixed.body.data.createApiKey.apiKey.name).toBe('fixed');
  });

  it('replays a stored userErrors answer, and a success without running again', async () => {
    const target = (await send(undefined, create('to revoke'))).body.data.createApiKey.apiKey.id as string;
    const key = randomUUID();
    const revoked = await send(key, { id: target }, { query: REVOKE });
    expect(revoked.body.data.revokeApiKey.userErrors).toEqual([]);
    // Run again, the revocation would answer ALREADY_REVOKED: the replay shows that nothing ran.
    expect((await send(key, { id: target }, { query: REVOKE })).text).toBe(revoked.text);

    const second = randomUUID();
    const failed = await send(second, { id: target }, { query: REVOKE });
    expect(failed.body.data.revokeApiKey.userErrors).toEqual([
      { code: 'ALREADY_REVOKED', message: expect.any(String), field: ['input', 'id'] },
    ]);
    const replay = await send(second, { id: target }, { query: REVOKE });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.text).toBe(failed.text);
  });

  it('treats a document with several mutations as one unit', async () => {
    const key = randomUUID();
    const before = await acmeKeys();
    const query =
      'mutation Two { a: createApiKey(input: { role: VIEWER, name: "a" }) { key } ' +
      'b: createApiKey(input: { role: EDITOR, name: "b" }) { key } }';
    const first = await send(key, {}, { query });
    expect(first.body.data.a.key).not.toBe(first.body.data.b.key);
    expect((await send(key, {}, { query })).text).toBe(first.text);
    expect(await acmeKeys()).toBe(before + 2);
  });

  it('ignores the header on queries', async () => {
    const key = randomUUID();
    for (const header of [key, '', 'x'.repeat(300)]) {
      const answer = await send(header, {}, { query: '{ viewer { role } }' });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('idempotent-replayed')).toBeNull();
      expect(answer.body.data.viewer.role).toBe('ADMIN');
    }
    expect(await keyRows(key)).toEqual([]);
  });

  it('scopes keys to the organization, and to the API key within it', async () => {
    const key = randomUUID();
    const ours = await send(key, create('shared'));
    const theirs = await send(key, create('shared'), { apiKey: globex.keys.ADMIN });
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.data.createApiKey.apiKey.id).not.toBe(ours.body.data.createApiKey.apiKey.id);
    expect(await keyRows(key)).toHaveLength(2);

    const colleague = (await issueApiKey(gateway.db, { organizationId: acme.organization.id, role: 'ADMIN' })).secret;
    const refused = await send(key, create('shared'), { apiKey: colleague });
    expect(refused.status).toBe(422);
    expect(refused.body.errors?.[0]).toEqual({
      message: expect.stringContaining('another API key'),
      extensions: { code: 'IDEMPOTENCY_KEY_REUSED' },
    });
  });
});
