import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrateTo, migrateToLatest } from '../src/db/migrator.js';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, TEST } from './support/integration-flows.js';

/**
 * A refresh token the provider refused stays dead until the integration gets a new credential: a probe
 * that still succeeds with the old access token does not make the integration ACTIVE again. A new
 * credential (an OAuth2 callback, a token or basic reconnection, a replacement) starts afresh: no refusal
 * and no refresh start of the old credential stays on the row.
 */
let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway(CONNECTING_GATEWAY);
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const refresh = (id: string) => gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } });
const test = (id: string) => gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } });
const READ = 'query($id: ID!) { integration(id: $id) { status statusReason health lastHealthCheck { ok message } } }';

/**
 * Another holder of the refresh token used it and the provider rotated it: the gateway's refresh token
 * is dead while its access token still works, and the gateway's next refresh is refused.
 */
async function refuseRefresh(id: string): Promise<string> {
  const settings = gw.fake.settings.gitlab as { tokenUrl: string; clientId: string; clientSecret: string };
  const response = await fetch(settings.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: gw.fake.latestGrant('gitlab')?.refreshToken as string,
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
    }),
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
  expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([
    expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' }),
  ]);
  const row = await gw.row(id);
  expect(row).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY', refresh_refused_reason: row.status_reason });
  expect(row.refresh_refused_at).toBeInstanceOf(Date);
  return row.status_reason as string;
}

/** The start record a gateway process leaves when it stops with its refresh in flight. */
const leaveStart = (id: string) =>
  gw.db
    .updateTable('integrations')
    .set({
      refresh_started_at: new Date(Date.now() - 60_000),
      refresh_attempt_id: '00000000-0000-4000-8000-000000000001',
      refresh_request_id: 'the-lost-request',
    })
    .where('id', '=', decodeTypedID(id, 'Integration'))
    .execute();

const FRESH = {
  refresh_refused_at: null,
  refresh_refused_reason: null,
  refresh_started_at: null,
  refresh_attempt_id: null,
  refresh_request_id: null,
};

describe('an integration whose refresh the provider refused', () => {
  it('stays NEEDS_REAUTH with its reason when a later test succeeds with the old access token; health is DEGRADED', async () => {
    const id = await gw.connectOAuth('gitlab');
    const reason = await refuseRefresh(id);
    expect(reason).toContain('invalid_grant');

    const tested = (await test(id)).body.data.testIntegration;
    expect(tested.userErrors).toEqual([]);
    expect(tested.healthCheck).toMatchObject({ ok: true, httpStatus: 200 });
    expect(tested.integration).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: reason,
      health: 'DEGRADED',
      lastHealthCheck: { ok: true },
    });
    const read = (await gw.graphql(gw.world.acme.keys.VIEWER, READ, { id })).body.data.integration;
    expect(read).toMatchObject({ status: 'NEEDS_REAUTH', statusReason: reason, health: 'DEGRADED', lastHealthCheck: { ok: true } });
    expect(await gw.row(id)).toMatchObject({ refresh_refused_reason: reason, consecutive_failures: 0 });
    // Filters see it where a dashboard looks for integrations to reconnect, not among the healthy ones.
    const reauth = await gw.graphql(
      gw.world.acme.keys.VIEWER,
      '{ integrations(first: 100, filter: {statuses: [NEEDS_REAUTH]}) { edges { node { id } } } }',
    );
    expect(reauth.body.data.integrations.edges.map((edge: { node: { id: string } }) => edge.node.id)).toContain(id);
    const healthy = await gw.graphql(
      gw.world.acme.keys.VIEWER,
      '{ integrations(first: 100, filter: {healths: [HEALTHY]}) { edges { node { id } } } }',
    );
    expect(healthy.body.data.integrations.edges.map((edge: { node: { id: string } }) => edge.node.id)).not.toContain(id);
  });

  it('keeps the refusal as its reason through a rejected and a failing probe, and the next success', async () => {
    const id = await gw.connectOAuth('gitlab');
    const reason = await refuseRefresh(id);
    gw.fake.fault('gitlab', 'api', { status: 401 });
    expect((await test(id)).body.data.testIntegration.integration).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: reason,
      health: 'UNHEALTHY',
      lastHealthCheck: { ok: false, httpStatus: 401 },
    });
    gw.fake.fault('gitlab', 'api', { status: 503 }, Infinity);
    expect((await test(id)).body.data.testIntegration.integration).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: reason,
      lastHealthCheck: { ok: false, httpStatus: 503 },
    });
    gw.fake.reset();
    expect((await test(id)).body.data.testIntegration.integration).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: reason,
      health: 'DEGRADED',
      lastHealthCheck: { ok: true },
    });
    expect(await gw.row(id)).toMatchObject({ refresh_refused_reason: reason });
  });

  it('is ACTIVE and HEALTHY again after a refresh the provider accepts, which clears the refusal', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.fault('gitlab', 'token', { status: 400, body: { error: 'invalid_grant', error_description: 'fake refusal' } });
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' }),
    ]);
    expect((await gw.row(id)).refresh_refused_at).toBeInstanceOf(Date);
    // The provider refused once, then accepts the same refresh token.
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', status_reason: null, ...FRESH });
    expect((await test(id)).body.data.testIntegration.integration).toMatchObject({
      status: 'ACTIVE',
      statusReason: null,
      health: 'HEALTHY',
    });
  });
});

describe('a new credential starts afresh', () => {
  it('an OAuth2 reconnection through the callback: ACTIVE and HEALTHY, no refusal and no refresh start left', async () => {
    const id = await gw.connectOAuth('gitlab');
    await refuseRefresh(id);
    await leaveStart(id);
    expect(await gw.connectOAuth('gitlab', { integrationId: id })).toBe(id);
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', status_reason: null, health: 'HEALTHY', ...FRESH });
    // The next refresh has nothing of the old credential to report.
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect((await gw.events(id)).at(-1)).toMatchObject({ type: 'integration.tokens_refreshed', detail: { rotated: true } });
    expect((await gw.events(id)).at(-1)?.detail).not.toHaveProperty('earlierRefreshLost');
  });

  it('a token reconnection: ACTIVE and HEALTHY, no refusal and no refresh start left', async () => {
    const id = await gw.connectOAuth('gitlab');
    await refuseRefresh(id);
    await leaveStart(id);
    const reconnected = await gw.connect('gitlab', 'API_TOKEN', { integrationId: id });
    expect(reconnected.body.data.connectIntegration.userErrors).toEqual([]);
    expect(reconnected.body.data.connectIntegration.integration).toMatchObject({
      id,
      authKind: 'API_TOKEN',
      status: 'ACTIVE',
      statusReason: null,
      health: 'HEALTHY',
    });
    expect(await gw.row(id)).toMatchObject(FRESH);
  });

  it('a credential replacement: no refresh start of the earlier credential stays', async () => {
    const connected = await gw.connect('gitlab', 'API_TOKEN');
    const id = connected.body.data.connectIntegration.integration.id as string;
    await leaveStart(id);
    const replaced = await gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, {
      input: { id, credentials: { token: gw.fake.issueApiToken('gitlab') } },
    });
    expect(replaced.body.data.refreshIntegration.userErrors).toEqual([]);
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY', ...FRESH });
  });

  it('a reconnection the provider refuses leaves the refusal and the start record as they were', async () => {
    const id = await gw.connectOAuth('gitlab');
    const reason = await refuseRefresh(id);
    await leaveStart(id);
    const refused = await gw.connect('gitlab', 'API_TOKEN', {
      integrationId: id,
      credentials: { token: 'not-a-token-the-provider-issued' },
    });
    expect(refused.body.data.connectIntegration.userErrors).toEqual([expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' })]);
    expect(await gw.row(id)).toMatchObject({
      status: 'NEEDS_REAUTH',
      status_reason: reason,
      refresh_refused_reason: reason,
      refresh_request_id: 'the-lost-request',
    });
  });
});

describe('an integration left NEEDS_REAUTH by a refused refresh before the refusal was kept', () => {
  it('gets the refusal from its status reason when the migration runs, and a later successful test keeps it NEEDS_REAUTH', async () => {
    const id = await gw.connectOAuth('gitlab');
    const reason = await refuseRefresh(id);
    const other = await gw.connectOAuth('gitlab');
    // The database as it stood before the refusal was kept (every later migration undone, newest first,
    // so that the columns keep their order), then migrated again.
    await migrateTo(gw.db, '2026-11-30T09.20.00_refresh-attempts');
    await migrateToLatest(gw.db);
    expect(await gw.row(id)).toMatchObject({ status: 'NEEDS_REAUTH', refresh_refused_reason: reason });
    expect((await gw.row(id)).refresh_refused_at).toBeInstanceOf(Date);
    expect(await gw.row(other)).toMatchObject({ status: 'ACTIVE', refresh_refused_at: null, refresh_refused_reason: null });
    expect((await test(id)).body.data.testIntegration.integration).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: reason,
      health: 'DEGRADED',
    });
  });
});
