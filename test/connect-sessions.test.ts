import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { findApiKeyRow, insertIntegration } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY } from './support/integration-flows.js';
import { createSession, requestSession } from './support/connect-sessions.js';
import { restClient } from './support/rest-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, listen: true });
});
afterAll(() => gw.close());

const END_USER = { id: 'user-42', displayName: 'Grace Hopper', email: 'grace@example.com' };

async function userErrorsOf(input: Record<string, unknown>, key?: string) {
  const answer = await requestSession(gw, { endUser: END_USER, ...input }, key);
  expect(answer.status).toBe(200);
  return answer.body.data.createConnectSession.userErrors as { code: string; field: string[]; message: string }[];
}

describe('createConnectSession', () => {
  it('issues a random token, stored only as its hash, valid 30 minutes by default, with a link to the hosted page', async () => {
    const before = Date.now();
    const created = await createSession(gw, { endUser: END_USER, allowedProviders: ['github'] });
    expect(created.token).toMatch(/^igcs_[A-Za-z0-9_-]{43}$/);
    expect(created.connectUrl).toBe(`http://gateway.test/connect?token=${created.token}`);
    const expiresAt = Date.parse(created.expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(30 * 60_000 - 1000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    const row = await gw.db.selectFrom('connect_sessions').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(createHash('sha256').update(created.token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(created.token.slice(5));
    expect(row).toMatchObject({
      end_user_id: 'user-42',
      end_user_display_name: 'Grace Hopper',
      end_user_email: 'grace@example.com',
      allowed_providers: ['github'],
      allowed_auth_kinds: null,
      spent_at: null,
    });
    const editor = await findApiKeyRow(gw.db, gw.world.acme.keys.EDITOR);
    expect(row.created_by_key_id).toBe(editor.id);
    const [event] = (await gw.events()).filter((candidate) => candidate.type === 'connect_session.created').slice(-1);
    expect(event).toMatchObject({ actor_key_id: editor.id, detail: { connectSessionId: created.id, endUserId: 'user-42' } });
    expect(JSON.stringify(event)).not.toContain(created.token);
  });

  it('two sessions never share a token', async () => {
    const a = await createSession(gw);
    const b = await createSession(gw);
    expect(a.token).not.toBe(b.token);
  });

  it('takes a lifetime of 60 seconds to 24 hours', async () => {
    const day = await createSession(gw, { expiresInSeconds: 86_400 });
    expect(Date.parse(day.expiresAt) - Date.now()).toBeGreaterThan(86_400_000 - 5_000);
    for (const expiresInSeconds of [59, 86_401, 0, -5]) {
      expect(await userErrorsOf({ expiresInSeconds })).toEqual([
        expect.objectContaining({ code: 'VALIDATION', field: ['input', 'expiresInSeconds'] }),
      ]);
    }
  });

  it('requires EDITOR: a VIEWER key is refused before anything is stored', async () => {
    const count = async () => (await gw.db.selectFrom('connect_sessions').select('id').execute()).length;
    const before = await count();
    const answer = await requestSession(gw, { endUser: END_USER }, gw.world.acme.keys.VIEWER);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(answer.body.data?.createConnectSession ?? null).toBeNull();
    expect(await count()).toBe(before);
  });

  it('replays the same answer (the same token) for a retried Idempotency-Key, and stores one session', async () => {
    const key = crypto.randomUUID();
    const input = { endUser: { id: 'idempotent-user' } };
    const first = await requestSession(gw, input, undefined, { 'idempotency-key': key });
    const second = await requestSession(gw, input, undefined, { 'idempotency-key': key });
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.text).toBe(first.text);
    const rows = await gw.db.selectFrom('connect_sessions').select('id').where('end_user_id', '=', 'idempotent-user').execute();
    expect(rows).toHaveLength(1);
  });
});

describe('createConnectSession validates its input', () => {
  it.each<[Record<string, unknown>, string[]]>([
    [{ endUser: { id: ' ' } }, ['input', 'endUser', 'id']],
    [{ endUser: { id: 'x'.repeat(201) } }, ['input', 'endUser', 'id']],
    [{ endUser: { id: 'a\nb' } }, ['input', 'endUser', 'id']],
    [{ endUser: { id: 'u', email: 'not an email' } }, ['input', 'endUser', 'email']],
    [{ allowedProviders: [] }, ['input', 'allowedProviders']],
    [{ allowedProviders: ['github', 'nope'] }, ['input', 'allowedProviders', '1']],
    [{ allowedAuthKinds: [] }, ['input', 'allowedAuthKinds']],
    [{ environment: 'two words' }, ['input', 'environment']],
    [{ returnUrl: 'http://app.example.com/back' }, ['input', 'returnUrl']],
    [{ returnUrl: 'javascript:alert(1)' }, ['input', 'returnUrl']],
    [{ returnUrl: 'https://user:pw@app.example.com/' }, ['input', 'returnUrl']],
    [{ returnUrl: 'https://app.example.com/#fragment' }, ['input', 'returnUrl']],
    [{ allowedOrigins: ['https://app.example.com/'] }, ['input', 'allowedOrigins', '0']],
    [{ allowedOrigins: ['https://app.example.com', '*'] }, ['input', 'allowedOrigins', '1']],
    [{ allowedOrigins: ['https://*.example.com'] }, ['input', 'allowedOrigins', '0']],
    [{ allowedOrigins: ['http://app.example.com'] }, ['input', 'allowedOrigins', '0']],
    [{ allowedOrigins: ['null'] }, ['input', 'allowedOrigins', '0']],
    [{ allowedOrigins: ['https://app.example.com/path'] }, ['input', 'allowedOrigins', '0']],
  ])('refuses %j', async (input, field) => {
    const errors = await userErrorsOf('endUser' in input ? input : { endUser: END_USER, ...input });
    expect(errors).toEqual([expect.objectContaining({ code: 'VALIDATION', field })]);
  });

  it('accepts https anywhere and plain http only on loopback, as exact origins', async () => {
    const created = await createSession(gw, {
      returnUrl: 'http://127.0.0.1:3000/settings?tab=integrations',
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173', 'http://[::1]:8080', 'https://app.example.com'],
    });
    const row = await gw.db.selectFrom('connect_sessions').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row.allowed_origins).toEqual(['https://app.example.com', 'http://localhost:5173', 'http://[::1]:8080']);
    expect(row.return_url).toBe('http://127.0.0.1:3000/settings?tab=integrations');
  });

  it('refuses limits that leave nothing to connect', async () => {
    const errors = await userErrorsOf({ allowedProviders: ['http'], allowedAuthKinds: ['OAUTH2'] });
    expect(errors).toEqual([expect.objectContaining({ code: 'VALIDATION', field: ['input', 'allowedAuthKinds'] })]);
  });

  it('reconnects only an integration of the organization, not revoked, and of the same end user', async () => {
    const { acme, globex } = gw.world;
    const theirs = await insertIntegration(gw.db, globex.organization.id, { provider: 'github' });
    expect(await userErrorsOf({ integrationId: theirs.globalId })).toEqual([
      expect.objectContaining({ code: 'NOT_FOUND', field: ['input', 'integrationId'] }),
    ]);
    const revoked = await insertIntegration(gw.db, acme.organization.id, { provider: 'github', status: 'REVOKED' });
    expect(await userErrorsOf({ integrationId: revoked.globalId })).toEqual([expect.objectContaining({ code: 'ALREADY_REVOKED' })]);
    const someoneElses = await insertIntegration(gw.db, acme.organization.id, { provider: 'github' });
    await gw.db.updateTable('integrations').set({ end_user_id: 'someone-else' }).where('id', '=', someoneElses.id).execute();
    expect(await userErrorsOf({ integrationId: someoneElses.globalId })).toEqual([
      expect.objectContaining({ code: 'FORBIDDEN', field: ['input', 'integrationId'] }),
    ]);
    const gitlab = await insertIntegration(gw.db, acme.organization.id, { provider: 'gitlab' });
    expect(await userErrorsOf({ integrationId: gitlab.globalId, allowedProviders: ['github'] })).toEqual([
      expect.objectContaining({ code: 'VALIDATION', field: ['input', 'allowedProviders'] }),
    ]);
    const created = await createSession(gw, { endUser: END_USER, integrationId: gitlab.globalId });
    const row = await gw.db.selectFrom('connect_sessions').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ reconnect: true, integration_id: gitlab.id, allowed_providers: ['gitlab'] });
  });
});

describe('the token is single purpose', () => {
  it('is not an API key: GraphQL and REST answer 401 to it', async () => {
    const { token } = await createSession(gw);
    const graphql = await gw.graphql(token, '{ viewer { role } integrations(first: 5) { totalCount } }');
    expect(graphql.status).toBe(401);
    expect(graphql.body.data ?? null).toBeNull();
    for (const path of ['/v1/integrations', '/integrations']) {
      const rest = await gw.fetch(path, { headers: { authorization: `Bearer ${token}` } });
      expect(rest.status).toBe(401);
    }
    const created = await gw.fetch('/v1/connect-sessions', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ end_user: { id: 'x' } }),
    });
    expect(created.status).toBe(401);
  });
});

describe('POST /connect-sessions', () => {
  it('issues a session as GraphQL does, 201 with snake_case members', async () => {
    const api = restClient(gw.url, gw.world.acme.keys.EDITOR);
    const answer = await api.POST('/connect-sessions', {
      body: { end_user: { id: 'rest-user', display_name: 'Rest User' }, allowed_providers: ['github'], allowed_auth_kinds: ['api_token'] },
    });
    expect(answer.response.status).toBe(201);
    expect(answer.data?.token).toMatch(/^igcs_/);
    expect(answer.data?.connect_url).toBe(`http://gateway.test/connect?token=${answer.data?.token}`);
    const row = await gw.db.selectFrom('connect_sessions').selectAll().where('end_user_id', '=', 'rest-user').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ allowed_auth_kinds: ['API_TOKEN'], end_user_display_name: 'Rest User' });
  });

  it('answers 422 problems pointing at the member, 403 to a VIEWER, and 400 to an unknown member', async () => {
    const editor = restClient(gw.url, gw.world.acme.keys.EDITOR);
    const bad = await editor.POST('/connect-sessions', { body: { end_user: { id: 'u' }, allowed_origins: ['https://a.example.com/x'] } });
    expect(bad.response.status).toBe(422);
    expect(bad.error).toMatchObject({ code: 'VALIDATION', errors: [{ pointer: '/allowed_origins/0' }] });
    const viewer = await restClient(gw.url, gw.world.acme.keys.VIEWER).POST('/connect-sessions', { body: { end_user: { id: 'u' } } });
    expect(viewer.response.status).toBe(403);
    const unknown = await gw.fetch('/v1/connect-sessions', {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.world.acme.keys.EDITOR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ end_user: { id: 'u' }, scopes: ['repo'] }),
    });
    expect(unknown.status).toBe(400);
    const get = await gw.fetch('/v1/connect-sessions', { headers: { authorization: `Bearer ${gw.world.acme.keys.EDITOR}` } });
    expect(get.status).toBe(405);
  });
});

describe('integrations record their end user, and the list filters by it', () => {
  it('GraphQL filter endUserId and REST end_user_id see only that end user, within the organization', async () => {
    const { acme, globex } = gw.world;
    const mine = await insertIntegration(gw.db, acme.organization.id, { displayName: 'for filter' });
    await insertIntegration(gw.db, acme.organization.id, { displayName: 'for filter, nobody' });
    const theirs = await insertIntegration(gw.db, globex.organization.id, { displayName: 'for filter, globex' });
    const tag = { end_user_id: 'filter-user', end_user_display_name: 'Filter User', end_user_email: null };
    await gw.db.updateTable('integrations').set(tag).where('id', 'in', [mine.id, theirs.id]).execute();

    const answer = await gw.graphql(
      acme.keys.VIEWER,
      'query($u: String) { integrations(first: 10, filter: { endUserId: $u }) ' +
        '{ totalCount edges { node { id endUser { id displayName email } } } } }',
      { u: 'filter-user' },
    );
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data.integrations).toEqual({
      totalCount: 1,
      edges: [{ node: { id: mine.globalId, endUser: { id: 'filter-user', displayName: 'Filter User', email: null } } }],
    });
    const rest = await restClient(gw.url, acme.keys.VIEWER).GET('/integrations', { params: { query: { end_user_id: 'filter-user' } } });
    expect(rest.data?.data.map((integration) => [integration.id, integration.end_user])).toEqual([
      [mine.globalId, { id: 'filter-user', display_name: 'Filter User', email: null }],
    ]);
    expect(decodeTypedID(mine.globalId, 'Integration')).toBe(mine.id);
  });
});
