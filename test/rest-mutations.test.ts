import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFor, RETURN_URL } from './support/integration-flows.js';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// Connect, update (JSON Merge Patch) and revoke over REST, through the generated client on a real port.

let w: RestWorld;
beforeAll(async () => {
  w = await createRestWorld();
});
afterAll(() => w.close());

const integrationCount = async () =>
  Number(
    (
      await w.gw.db
        .selectFrom('integrations')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('organization_id', '=', w.gw.world.acme.organization.id)
        .executeTakeFirstOrThrow()
    ).count,
  );

describe('POST /v1/integrations', () => {
  it('connects a token integration: 201 with Location, probed, the secret never echoed', async () => {
    const body = w.tokenConnect('gitlab', { environment: 'production', scopes: ['read_api'] });
    const res = await w.as('EDITOR').POST('/integrations', { body });
    expect(res.response.status).toBe(201);
    const id = res.data?.data.id as string;
    expect(res.response.headers.get('location')).toBe(`/v1/integrations/${id}`);
    expect(res.data).toMatchObject({ authorization_url: null, data: { status: 'active', health: 'healthy', environment: 'production' } });
    expect(JSON.stringify(res.data)).not.toContain(body.credentials.token);
    const located = await w.raw(res.response.headers.get('location') as string, {
      headers: { authorization: `Bearer ${w.gw.world.acme.keys.VIEWER}` },
    });
    expect((await located.json()).id).toBe(id);
  });

  it('starts an OAuth2 connection: 202 with the authorization URL, which completes it', async () => {
    const res = await w.as('EDITOR').POST('/integrations', {
      body: {
        provider: 'github',
        display_name: 'GitHub OAuth',
        auth_kind: 'oauth2',
        config: configFor('github', w.gw.fake),
        return_url: RETURN_URL,
      },
    });
    expect(res.response.status).toBe(202);
    expect(res.response.headers.get('location')).toBeNull();
    expect(res.data?.data.status).toBe('pending_authorization');
    const { location } = await w.gw.authorize(res.data?.authorization_url as string);
    expect(location?.searchParams.get('outcome')).toBe('connected');
    const after = await w.as('VIEWER').GET('/integrations/{id}', { params: { path: { id: res.data?.data.id as string } } });
    expect(after.data).toMatchObject({ status: 'active', auth_kind: 'oauth2', has_credentials: true });
  });

  it('refuses malformed bodies with 4xx problems naming the field, and stores nothing', async () => {
    const before = await integrationCount();
    const editor = w.as('EDITOR');
    const good = w.tokenConnect('gitlab');
    const cases: [unknown, number, string, string | null][] = [
      [{ ...good, surprise: true }, 400, 'BAD_USER_INPUT', '/surprise'],
      [{ ...good, display_name: 42 }, 400, 'BAD_USER_INPUT', '/display_name'],
      [{ ...good, auth_kind: 'API_TOKEN' }, 400, 'BAD_USER_INPUT', '/auth_kind'],
      [{ ...good, credentials: { token: 'x', pin: 1 } }, 400, 'BAD_USER_INPUT', '/credentials/pin'],
      [{ ...good, provider: 'nope' }, 422, 'VALIDATION', '/provider'],
      [{ ...good, integration_id: 'nope' }, 400, 'INVALID_ID', '/integration_id'],
      [{ ...good, auth_kind: 'basic' }, 422, 'VALIDATION', null],
      [{ ...good, credentials: { token: 'wrong' } }, 422, 'PROVIDER_REJECTED_CREDENTIALS', null],
      [{ provider: 'github', display_name: 'x', auth_kind: 'oauth2', return_url: 'ftp://x' }, 422, 'VALIDATION', '/return_url'],
    ];
    for (const [body, status, code, pointer] of cases) {
      const res = await editor.POST('/integrations', { body: body as never });
      expect(res.response.status, JSON.stringify(body)).toBe(status);
      expect(res.response.headers.get('content-type')).toBe('application/problem+json');
      expect(res.error).toMatchObject({ status, code, detail: expect.any(String) });
      if (pointer) expect((res.error as { errors: { pointer: string }[] }).errors.map((error) => error.pointer)).toContain(pointer);
    }
    const raw = (init: RequestInit) =>
      w.raw('/v1/integrations', {
        method: 'POST',
        ...init,
        headers: { authorization: `Bearer ${w.gw.world.acme.keys.EDITOR}`, ...init.headers },
      });
    const malformed = await raw({ body: '{"provider": ', headers: { 'content-type': 'application/json' } });
    expect([malformed.status, (await malformed.json()).code]).toEqual([400, 'BAD_USER_INPUT']);
    const text = await raw({ body: JSON.stringify(good), headers: { 'content-type': 'text/plain' } });
    expect([text.status, (await text.json()).code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const huge = await raw({
      body: JSON.stringify({ ...good, display_name: 'x'.repeat(200_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect([huge.status, (await huge.json()).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const viewer = await w.as('VIEWER').POST('/integrations', { body: good });
    expect([viewer.response.status, viewer.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect(await integrationCount()).toBe(before);
  });
});

describe('PATCH /v1/integrations/{id}', () => {
  it('merges a webhook patch (application/merge-patch+json), returns a rotated secret once, and null removes the URL', async () => {
    const id = (await w.as('EDITOR').POST('/integrations', { body: w.tokenConnect('gitlab') })).data?.data.id as string;
    const editor = w.as('EDITOR');
    const first = await editor.PATCH('/integrations/{id}', {
      params: { path: { id } },
      body: { webhook: { url: 'https://hooks.example.com/gateway', events: ['push'], enabled: true, rotate_secret: true } },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(first.response.status).toBe(200);
    expect(first.data?.webhook_signing_secret).toEqual(expect.any(String));
    expect(first.data?.data.webhook).toMatchObject({ url: 'https://hooks.example.com/gateway', events: ['push'], enabled: true });

    // Members left out stay as they are.
    const second = await editor.PATCH('/integrations/{id}', {
      params: { path: { id } },
      body: { webhook: { events: ['push', 'merge'] } },
    });
    expect(second.data).toMatchObject({
      webhook_signing_secret: null,
      data: { webhook: { url: 'https://hooks.example.com/gateway', events: ['push', 'merge'], enabled: true } },
    });
    const cleared = await editor.PATCH('/integrations/{id}', {
      params: { path: { id } },
      body: { webhook: { url: null, enabled: false } },
    });
    expect(cleared.data?.data.webhook).toMatchObject({ url: null, enabled: false, events: ['push', 'merge'] });

    const bad = await editor.PATCH('/integrations/{id}', { params: { path: { id } }, body: { webhook: { url: 'ftp://x' } } });
    expect(bad.error).toMatchObject({ status: 422, code: 'VALIDATION', errors: [{ pointer: '/webhook/url' }] });
    const empty = await editor.PATCH('/integrations/{id}', { params: { path: { id } }, body: {} });
    expect(empty.error).toMatchObject({ status: 422, code: 'VALIDATION' });
  });

  it('replaces a credential after probing it; a rejected one changes nothing', async () => {
    const id = (await w.as('EDITOR').POST('/integrations', { body: w.tokenConnect('gitlab') })).data?.data.id as string;
    const before = await w.gw.secretsOf(id);
    const rejected = await w
      .as('EDITOR')
      .PATCH('/integrations/{id}', { params: { path: { id } }, body: { credentials: { token: 'wrong' } } });
    expect(rejected.error).toMatchObject({ status: 422, code: 'PROVIDER_REJECTED_CREDENTIALS' });
    expect(await w.gw.secretsOf(id)).toEqual(before);
    const token = w.gw.fake.issueApiToken('gitlab');
    const replaced = await w.as('EDITOR').PATCH('/integrations/{id}', { params: { path: { id } }, body: { credentials: { token } } });
    expect(replaced.response.status).toBe(200);
    expect(JSON.stringify(replaced.data)).not.toContain(token);
    expect(await w.gw.secretsOf(id)).not.toEqual(before);
    const theirs = await w.other('ADMIN').PATCH('/integrations/{id}', { params: { path: { id } }, body: { refresh_tokens: true } });
    expect(theirs.error).toMatchObject({ status: 404, code: 'NOT_FOUND', errors: [{ pointer: '/path/id' }] });
  });
});

describe('DELETE /v1/integrations/{id}', () => {
  it('revokes (200 with the revoked record), and answers the same record when repeated; GraphQL sees it revoked', async () => {
    // An OAuth2 token is revoked at the provider too.
    const id = await w.gw.connectOAuth('gitlab');
    const viewer = await w.as('VIEWER').DELETE('/integrations/{id}', { params: { path: { id } } });
    expect(viewer.response.status).toBe(403);
    const theirs = await w.other('ADMIN').DELETE('/integrations/{id}', { params: { path: { id } } });
    expect(theirs.response.status).toBe(404);

    const revoked = await w.as('EDITOR').DELETE('/integrations/{id}', { params: { path: { id } } });
    expect(revoked.response.status).toBe(200);
    expect(revoked.data).toMatchObject({ revoked_at_provider: true, data: { id, status: 'revoked', has_credentials: false } });
    const again = await w.as('EDITOR').DELETE('/integrations/{id}', { params: { path: { id } } });
    expect(again.response.status).toBe(200);
    expect(again.data).toMatchObject({
      revoked_at_provider: false,
      data: { id, status: 'revoked', revoked_at: revoked.data?.data.revoked_at },
    });
    const node = await w.gw.graphql(w.gw.world.acme.keys.VIEWER, 'query($id: ID!) { integration(id: $id) { status hasCredentials } }', {
      id,
    });
    expect(node.body.data.integration).toEqual({ status: 'REVOKED', hasCredentials: false });
    // Revoked integrations are listed only when asked for.
    const listed = await w.as('VIEWER').GET('/integrations', { params: { query: { status: 'revoked', limit: 100 } } });
    expect(listed.data?.data.map((item) => item.id)).toContain(id);
  });
});
