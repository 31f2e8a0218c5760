import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { insertHealthChecks, insertIntegration, insertIntegrations } from './support/fixtures.js';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// The REST reads and the health check, through the client generated from openapi.json on a real port.

let w: RestWorld;
beforeAll(async () => {
  w = await createRestWorld();
});
afterAll(() => w.close());

const BASE = Date.parse('2026-01-01T00:00:00.000Z');

describe('GET /v1/integrations', () => {
  it('pages forwards by next_cursor, with rows inserted between pages showing up in order and none twice', async () => {
    const rows = await insertIntegrations(w.gw.db, w.gw.world.acme.organization.id, 7, (i) => ({
      displayName: `Paged ${i}`,
      environment: 'paging',
      createdAt: new Date(BASE + i * 10_000),
    }));
    const client = w.as('VIEWER');
    const first = await client.GET('/integrations', { params: { query: { environment: 'paging', limit: 3, include: 'total_count' } } });
    expect(first.response.status).toBe(200);
    expect(first.data?.data.map((item) => item.display_name)).toEqual(['Paged 0', 'Paged 1', 'Paged 2']);
    expect(first.data).toMatchObject({ has_more: true, total_count: 7 });
    expect(first.data?.next_cursor).toEqual(expect.any(String));

    // One row sorts after the cursor, one before it: only the first is still ahead.
    await insertIntegration(w.gw.db, w.gw.world.acme.organization.id, {
      displayName: 'Late',
      environment: 'paging',
      createdAt: new Date(BASE + 95_000),
    });
    await insertIntegration(w.gw.db, w.gw.world.acme.organization.id, {
      displayName: 'Early',
      environment: 'paging',
      createdAt: new Date(BASE - 1_000),
    });
    const seen = [...(first.data?.data ?? [])];
    let cursor = first.data?.next_cursor ?? null;
    while (cursor) {
      const page = await client.GET('/integrations', { params: { query: { environment: 'paging', limit: 3, cursor } } });
      expect(page.response.status).toBe(200);
      expect(page.data?.total_count).toBeUndefined();
      seen.push(...(page.data?.data ?? []));
      cursor = page.data?.next_cursor ?? null;
      expect(page.data?.has_more).toBe(cursor !== null);
    }
    expect(seen.map((item) => item.display_name)).toEqual([
      'Paged 0',
      'Paged 1',
      'Paged 2',
      'Paged 3',
      'Paged 4',
      'Paged 5',
      'Paged 6',
      'Late',
    ]);
    expect(seen[0]?.id).toBe(rows[0]?.globalId);

    // Another organization's list holds none of them.
    const theirs = await w.other('VIEWER').GET('/integrations', { params: { query: { environment: 'paging', include: 'total_count' } } });
    expect(theirs.data).toEqual({ data: [], next_cursor: null, has_more: false, total_count: 0 });
  });

  it('filters, orders (descending with `-`), and serves the same list unprefixed', async () => {
    await insertIntegration(w.gw.db, w.gw.world.acme.organization.id, {
      displayName: 'Zeta sorted',
      environment: 'sorting',
      provider: 'slack',
      health: 'HEALTHY',
    });
    await insertIntegration(w.gw.db, w.gw.world.acme.organization.id, {
      displayName: 'alpha sorted',
      environment: 'sorting',
      provider: 'github',
      status: 'NEEDS_REAUTH',
    });
    const client = w.as('VIEWER');
    const ordered = await client.GET('/integrations', { params: { query: { environment: 'sorting', order: '-display_name' } } });
    expect(ordered.data?.data.map((item) => item.display_name)).toEqual(['Zeta sorted', 'alpha sorted']);
    const filtered = await client.GET('/integrations', {
      params: { query: { environment: 'sorting', provider: 'github,gitlab', status: 'needs_reauth', search: 'ALPHA' } },
    });
    expect(filtered.data?.data).toMatchObject([{ display_name: 'alpha sorted', status: 'needs_reauth', provider: 'github' }]);
    const healthy = await client.GET('/integrations', { params: { query: { environment: 'sorting', health: 'healthy' } } });
    expect(healthy.data?.data.map((item) => item.display_name)).toEqual(['Zeta sorted']);

    const unprefixed = await w.raw('/integrations?environment=sorting&order=-display_name', {
      headers: { authorization: `Bearer ${w.gw.world.acme.keys.VIEWER}` },
    });
    expect(unprefixed.status).toBe(200);
    expect(await unprefixed.json()).toEqual(ordered.data);
  });

  it('refuses bad parameters with a problem naming each one, and runs nothing', async () => {
    const client = w.as('VIEWER');
    const cases: [Record<string, unknown>, string, string][] = [
      [{ limit: 0 }, 'BAD_USER_INPUT', '/query/limit'],
      [{ limit: 101 }, 'BAD_USER_INPUT', '/query/limit'],
      [{ limit: 'ten' }, 'BAD_USER_INPUT', '/query/limit'],
      [{ order: 'provider' }, 'BAD_USER_INPUT', '/query/order'],
      [{ status: 'active,sleeping' }, 'BAD_USER_INPUT', '/query/status'],
      [{ cursor: 'not-a-cursor' }, 'INVALID_CURSOR', '/query/cursor'],
      [{ unknown: 'x' }, 'BAD_USER_INPUT', '/query/unknown'],
    ];
    for (const [query, code, pointer] of cases) {
      const res = await client.GET('/integrations', { params: { query: query as never } });
      expect(res.response.status, JSON.stringify(query)).toBe(400);
      expect(res.response.headers.get('content-type')).toBe('application/problem+json');
      expect(res.error).toMatchObject({ status: 400, code, title: 'Bad Request', errors: [expect.objectContaining({ pointer })] });
    }
    // A cursor of another order is refused rather than misread.
    const page = await client.GET('/integrations', { params: { query: { limit: 1 } } });
    const other = await client.GET('/integrations', { params: { query: { cursor: page.data?.next_cursor ?? '', order: '-created_at' } } });
    expect(other.error).toMatchObject({ code: 'INVALID_CURSOR' });
  });

  it('answers 401 without a valid key, whatever else is wrong with the request', async () => {
    const anonymous = await w.raw('/v1/integrations?limit=500');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    expect(await anonymous.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    const forged = await w.raw('/v1/integrations', { headers: { authorization: 'Bearer igw_000000000000_nope' } });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('GET /v1/integrations/{id}', () => {
  it('shows scopes, last sync and webhook; 404 for another organization, 400 for an ID that is not one', async () => {
    const { globalId } = await insertIntegration(w.gw.db, w.gw.world.acme.organization.id, {
      displayName: 'Scoped',
      requestedScopes: ['repo', 'read:org'],
      grantedScopes: ['repo'],
      lastSync: { status: 'FAILED', startedAt: new Date(BASE), finishedAt: new Date(BASE + 5_000), error: 'provider answered 500' },
    });
    const got = await w.as('VIEWER').GET('/integrations/{id}', { params: { path: { id: globalId } } });
    expect(got.response.status).toBe(200);
    expect(got.data).toMatchObject({
      id: globalId,
      display_name: 'Scoped',
      auth_kind: 'api_token',
      scopes: { requested: ['repo', 'read:org'], granted: ['repo'], missing: ['read:org'] },
      last_sync: {
        status: 'failed',
        started_at: '2026-01-01T00:00:00.000Z',
        finished_at: '2026-01-01T00:00:05.000Z',
        error: 'provider answered 500',
      },
      webhook: { url: null, events: [], enabled: false, secret_rotated_at: null },
      has_credentials: false,
    });

    const theirs = await w.other('ADMIN').GET('/integrations/{id}', { params: { path: { id: globalId } } });
    expect(theirs.response.status).toBe(404);
    expect(theirs.error).toMatchObject({ code: 'NOT_FOUND', errors: [{ pointer: '/path/id' }] });
    const notAnId = await w.as('VIEWER').GET('/integrations/{id}', { params: { path: { id: 'nope' } } });
    expect(notAnId.error).toMatchObject({ status: 400, code: 'INVALID_ID', errors: [{ pointer: '/path/id' }] });
    const wrongType = await w.as('VIEWER').GET('/integrations/{id}', {
      params: { path: { id: encodeGlobalID('Organization', w.gw.world.acme.organization.id) } },
    });
    expect(wrongType.error).toMatchObject({ status: 400, code: 'INVALID_ID' });
  });

  it('reads over REST what GraphQL connected, and GraphQL reads what REST connected, by the same IDs', async () => {
    const viaGraphQL = await w.gw.connect('gitlab', 'API_TOKEN');
    const graphqlId = viaGraphQL.body.data.connectIntegration.integration.id as string;
    const read = await w.as('VIEWER').GET('/integrations/{id}', { params: { path: { id: graphqlId } } });
    expect(read.data).toMatchObject({ id: graphqlId, provider: 'gitlab', status: 'active', has_credentials: true });

    const viaRest = await w.as('EDITOR').POST('/integrations', { body: w.tokenConnect('github') });
    expect(viaRest.response.status).toBe(201);
    const restId = viaRest.data?.data.id as string;
    const node = await w.gw.graphql(
      w.gw.world.acme.keys.VIEWER,
      'query($id: ID!) { integration(id: $id) { id displayName status health } }',
      {
        id: restId,
      },
    );
    expect(node.body.data.integration).toEqual({ id: restId, displayName: 'github over REST', status: 'ACTIVE', health: 'HEALTHY' });
  });
});

describe('POST /v1/integrations/{id}/test', () => {
  it('probes and records a check; VIEWER is 403 and nothing is recorded; 404 for another organization', async () => {
    const connected = await w.as('EDITOR').POST('/integrations', { body: w.tokenConnect('gitlab') });
    const id = connected.data?.data.id as string;
    const tested = await w.as('EDITOR').POST('/integrations/{id}/test', { params: { path: { id } } });
    expect(tested.response.status).toBe(200);
    expect(tested.data?.health_check).toMatchObject({ integration_id: id, ok: true, http_status: 200, error_code: null });
    expect(tested.data?.data).toMatchObject({ id, health: 'healthy', status: 'active' });

    const checks = async () =>
      (
        await w.gw.db
          .selectFrom('integration_health_checks')
          .select('id')
          .where('integration_id', '=', (await w.gw.row(id)).id)
          .execute()
      ).length;
    const before = await checks();
    const viewer = await w.as('VIEWER').POST('/integrations/{id}/test', { params: { path: { id } } });
    expect(viewer.response.status).toBe(403);
    expect(viewer.error).toMatchObject({ code: 'FORBIDDEN' });
    const theirs = await w.other('EDITOR').POST('/integrations/{id}/test', { params: { path: { id } } });
    expect(theirs.response.status).toBe(404);
    expect(await checks()).toBe(before);

    w.gw.fake.fault('gitlab', 'api', { status: 401 });
    const rejected = await w.as('EDITOR').POST('/integrations/{id}/test', { params: { path: { id } } });
    expect(rejected.data?.health_check).toMatchObject({ ok: false, http_status: 401, error_code: 'PROVIDER_REJECTED_CREDENTIALS' });
    expect(rejected.data?.data).toMatchObject({ status: 'needs_reauth', health: 'unhealthy' });
    w.gw.fake.reset();
  });
});

describe('GET /v1/integrations/{id}/health-checks', () => {
  it('pages the history newest first; a GraphQL cursor pages it too; 404 for another organization', async () => {
    const { id, globalId } = await insertIntegration(w.gw.db, w.gw.world.acme.organization.id, { displayName: 'Checked' });
    const checkIds = await insertHealthChecks(w.gw.db, w.gw.world.acme.organization.id, id, 5, new Date(BASE));
    const client = w.as('VIEWER');
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.GET('/integrations/{id}/health-checks', {
        params: { path: { id: globalId }, query: { limit: 2, ...(cursor ? { cursor } : {}) } },
      });
      expect(page.response.status).toBe(200);
      seen.push(...(page.data?.data ?? []).map((check) => check.id));
      cursor = page.data?.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...checkIds].reverse().map((checkId) => encodeGlobalID('HealthCheck', checkId)));

    const graphql = await w.gw.graphql(
      w.gw.world.acme.keys.VIEWER,
      'query($id: ID!) { integration(id: $id) { ... on Integration { healthChecks(first: 1) { pageInfo { endCursor } } } } }',
      { id: globalId },
    );
    const after = graphql.body.data.integration.healthChecks.pageInfo.endCursor as string;
    const rest = await client.GET('/integrations/{id}/health-checks', {
      params: { path: { id: globalId }, query: { cursor: after, limit: 100 } },
    });
    expect(rest.data?.data).toHaveLength(4);
    expect(rest.data?.data[0]).toMatchObject({
      integration_id: globalId,
      checked_at: expect.any(String),
      missing_scopes: expect.any(Array),
    });

    const theirs = await w.other('VIEWER').GET('/integrations/{id}/health-checks', { params: { path: { id: globalId } } });
    expect(theirs.error).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const bad = await client.GET('/integrations/{id}/health-checks', { params: { path: { id: globalId }, query: { cursor: 'x' } } });
    expect(bad.error).toMatchObject({ status: 400, code: 'INVALID_CURSOR', errors: [{ pointer: '/query/cursor' }] });
  });
});

describe('REST metrics', () => {
  it('counts REST requests by operation id, status and outcome, and their problems by code', async () => {
    const metricsOf = async () => (await w.raw('/metrics')).text();
    const counted = (text: string, labels: string) =>
      Number(new RegExp(`^gateway_rest_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await metricsOf();
    expect((await w.as('VIEWER').GET('/integrations', { params: { query: { limit: 1 } } })).response.status).toBe(200);
    const missing = encodeGlobalID('Integration', '00000000-0000-0000-0000-000000000000');
    const notFound = await w.as('VIEWER').GET('/integrations/{id}', { params: { path: { id: missing } } });
    expect(notFound.response.status).toBe(404);
    const after = await metricsOf();
    const listed = 'operation="listIntegrations",status="200",outcome="ok"';
    const refused = 'operation="getIntegration",status="404",outcome="rejected"';
    expect(counted(after, listed)).toBe(counted(before, listed) + 1);
    expect(counted(after, refused)).toBe(counted(before, refused) + 1);
    expect(after).toMatch(/^gateway_rest_request_duration_seconds_count\{operation="listIntegrations"\} [1-9]\d*$/m);
    expect(after).toMatch(/^gateway_graphql_errors_total\{code="NOT_FOUND"\} [1-9]\d*$/m);
    // GraphQL's counters are GraphQL's alone.
    expect(after).not.toMatch(/^gateway_graphql_requests_total\{operation="listIntegrations"/m);
  });
});
