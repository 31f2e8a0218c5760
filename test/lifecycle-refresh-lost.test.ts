import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { KeyRing, SecretVault } from '../src/secrets/index.js';
import { settingsAsEnv } from './fake-provider/profiles.js';
import { testDatabaseKind } from './support/database.js';
import { sendGraphQL } from './support/request.js';
import { childEnv, type RunningGateway, startGateway } from './support/process.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH } from './support/integration-flows.js';

/**
 * A token refresh records its start, committed, before it calls the provider, and clears it with its
 * outcome. A process that dies in between leaves the start behind; if the provider rotated the refresh
 * token meanwhile, the new one is lost with the process, and the next refresh, refused, says so.
 */
const encryptionKey = randomBytes(32);
let gw: TestGateway;
beforeAll(async () => {
  // Refresh starts are orphaned after three provider deadlines: 1.2 s here.
  gw = await createTestGateway({
    ...CONNECTING_GATEWAY,
    services: { probeTimeoutMs: 400, vault: new SecretVault(new KeyRing(encryptionKey)) },
  });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const refresh = (id: string) => gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } });
const LOST = /outcome of an earlier token refresh, started at .* was lost/;

async function until(condition: () => boolean | Promise<boolean>, what: string) {
  for (const started = Date.now(); Date.now() - started < 20_000; ) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What a refresh that died in flight did at the provider: it presented the refresh token, which rotated. */
async function refreshAtProvider(provider: string, refreshToken: string) {
  const settings = gw.fake.settings[provider] as { tokenUrl: string; clientId: string; clientSecret: string };
  const response = await fetch(settings.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
    }),
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

/** The start record a process leaves when it dies with its refresh in flight, `ageMs` old. */
const leaveStart = (id: string, ageMs: number) =>
  gw.db
    .updateTable('integrations')
    .set({
      refresh_started_at: new Date(Date.now() - ageMs),
      refresh_attempt_id: '00000000-0000-4000-8000-000000000001',
      refresh_request_id: 'the-lost-request',
    })
    .where('id', '=', decodeTypedID(id, 'Integration'))
    .execute();

describe('a refresh the provider refuses', () => {
  it('is NEEDS_REAUTH at once, not HEALTHY, and its last check is the refusal', async () => {
    const id = await gw.connectOAuth('gitlab');
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY', last_check_ok: true });
    gw.fake.store.revokeGrant(gw.fake.latestGrant('gitlab')!.id);
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' }),
    ]);
    const read = await gw.graphql(
      gw.world.acme.keys.VIEWER,
      'query($id: ID!) { integration(id: $id) { status statusReason health lastHealthCheck { ok message } } }',
      { id },
    );
    const integration = read.body.data.integration;
    expect(integration).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY', lastHealthCheck: { ok: false } });
    expect(integration.statusReason).toContain('invalid_grant');
    expect(integration.lastHealthCheck.message).toBe(integration.statusReason);
    expect(integration.statusReason).not.toMatch(LOST);
    expect((await gw.row(id)).refresh_started_at).toBeNull();
  });
});

describe('a refresh whose outcome was lost', () => {
  it('the next refresh, refused, makes the integration NEEDS_REAUTH saying the earlier outcome was lost, with an event', async () => {
    const id = await gw.connectOAuth('gitlab');
    const old = gw.fake.latestGrant('gitlab')?.refreshToken as string;
    await refreshAtProvider('gitlab', old);
    await leaveStart(id, 60_000);
    gw.fake.reset();
    const payload = (await refresh(id)).body.data.refreshIntegration;
    expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' })]);
    const row = await gw.row(id);
    expect(row).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY', refresh_started_at: null, refresh_attempt_id: null });
    expect(row.status_reason).toMatch(LOST);
    expect(row.status_reason).toContain('the-lost-request');
    const lost = (await gw.events(id)).filter((event) => event.type === 'integration.refresh_outcome_lost');
    expect(lost).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        detail: expect.objectContaining({ requestId: 'the-lost-request', oauthError: 'invalid_grant' }),
      }),
    ]);
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
  });

  it('a refresh the provider then accepts clears the lost start and notes it on its event', async () => {
    // PagerDuty does not rotate refresh tokens: the lost refresh cost nothing.
    const id = await gw.connectOAuth('pagerduty');
    await leaveStart(id, 60_000);
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', refresh_started_at: null, refresh_attempt_id: null });
    expect((await gw.events(id)).at(-1)).toMatchObject({
      type: 'integration.tokens_refreshed',
      detail: { earlierRefreshLost: { requestId: 'the-lost-request' } },
    });
  });

  it('a provider failing for a while keeps the lost start on record until a refresh is answered', async () => {
    const id = await gw.connectOAuth('gitlab');
    await refreshAtProvider('gitlab', gw.fake.latestGrant('gitlab')?.refreshToken as string);
    await leaveStart(id, 60_000);
    gw.fake.reset();
    gw.fake.fault('gitlab', 'token', { status: 503 });
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'PROVIDER_UNREACHABLE' }),
    ]);
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', refresh_request_id: 'the-lost-request', refresh_attempt_id: null });
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' }),
    ]);
    expect((await gw.row(id)).status_reason).toMatch(LOST);
  });

  it('a recent start of another request is waited for, not repeated: the refresh calls the provider once it is orphaned', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    const started = Date.now();
    await leaveStart(id, 0);
    const answer = refresh(id);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(gw.fake.calls('gitlab', 'token')).toBe(0);
    expect((await answer).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
  });
});

// The embedded database is single-process: a second gateway cannot open it while the first runs.
describe.skipIf(testDatabaseKind !== 'postgres')(
  'a gateway process killed between the provider rotating the token and the commit (postgres project)',
  () => {
    let dataDir: string;
    let child: RunningGateway | null = null;
    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-refresh-kill-'));
    });
    afterAll(async () => {
      await child?.crash();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('leaves its committed start behind, and the next refresh in another process reports the lost outcome', async () => {
      const id = await gw.connectOAuth('gitlab');
      const old = gw.fake.latestGrant('gitlab')?.refreshToken as string;
      const connectorEnv = Object.fromEntries(
        settingsAsEnv(gw.fake.settings).map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
      child = await startGateway(
        childEnv({
          ...connectorEnv,
          DATABASE_URL: gw.database.url ?? undefined,
          DATA_DIR: dataDir,
          ENCRYPTION_KEY: encryptionKey.toString('base64'),
          PROVIDER_TIMEOUT_MS: '20000',
        }),
      );
      gw.fake.reset();
      let release = () => {};
      gw.fake.fault('gitlab', 'token', { until: new Promise<void>((resolve) => (release = resolve)) });
      const sent = sendGraphQL(child.url, {
        key: gw.world.acme.keys.EDITOR,
        query: REFRESH,
        variables: { input: { id, refreshTokens: true } },
        headers: { accept: null },
      }).catch((error: unknown) => error);
      await until(() => gw.fake.calls('gitlab', 'token') === 1, 'the token call');
      // The start was committed before the call.
      const started = await gw.row(id);
      expect(started.refresh_started_at).not.toBeNull();
      await child.crash();
      child = null;
      expect(await sent).toBeInstanceOf(Error);
      // The provider answers the dead process: the refresh token rotated, and nobody has the new one.
      release();
      await until(() => !gw.fake.refreshTokenIsLive(old), 'the rotation');
      expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: old });
      expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', refresh_attempt_id: started.refresh_attempt_id });
      await until(
        async () =>
          (
            await sql<{
              n: number;
            }>`select count(*)::int as n from pg_stat_activity
               where datname = current_database() and state = 'idle in transaction'`.execute(gw.db)
          ).rows[0]?.n === 0,
        'the dead session to end',
      );

      const payload = (await refresh(id)).body.data.refreshIntegration;
      expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' })]);
      const row = await gw.row(id);
      expect(row).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY', refresh_started_at: null });
      expect(row.status_reason).toMatch(LOST);
      const lost = (await gw.events(id)).filter((event) => event.type === 'integration.refresh_outcome_lost');
      expect(lost).toEqual([
        expect.objectContaining({ outcome: 'FAILED', detail: expect.objectContaining({ requestId: started.refresh_request_id }) }),
      ]);
    });
  },
);
