import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { findApiKeyRow } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, REVOKE, TEST } from './support/integration-flows.js';

let gw: TestGateway;
/** Request id of every mutation sent, with the event types it must have written. */
const sent: { requestId: string; types: string[]; outcome: 'SUCCEEDED' | 'FAILED' }[] = [];
const webhookSecrets: string[] = [];
/** Secrets a misbehaving provider puts where the gateway might echo them (error bodies, malformed token answers). */
const LEAKY = ['leaky-echoed-token-0001', 'leaky-access-token-0002', 'leaky-refresh-token-0003'];

beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } });
  const editor = gw.world.acme.keys.EDITOR;
  const record = (res: { requestId: string }, outcome: 'SUCCEEDED' | 'FAILED', ...types: string[]) =>
    sent.push({ requestId: res.requestId, types, outcome });
  const mutate = (query: string, input: Record<string, unknown>) => gw.graphql(editor, query, { input });

  // Token and basic connections, a rejected one, and everything else a token integration goes through.
  const token = await gw.connect('github', 'API_TOKEN');
  record(token, 'SUCCEEDED', 'integration.connected');
  const basic = await gw.connect('jira', 'BASIC');
  record(basic, 'SUCCEEDED', 'integration.connected');
  record(
    await gw.connect('servicenow', 'BASIC', { credentials: { username: 'ada', password: 'not-the-password-1' } }),
    'FAILED',
    'integration.connect_failed',
  );
  const id = token.body.data.connectIntegration.integration.id;
  record(await mutate(TEST, { id }), 'SUCCEEDED', 'integration.tested');
  record(
    await mutate(REFRESH, { id, credentials: { token: gw.fake.issueApiToken('github') } }),
    'SUCCEEDED',
    'integration.credentials_replaced',
  );
  record(
    await mutate(REFRESH, { id, credentials: { token: 'ghp_rejected-replacement-0001' } }),
    'FAILED',
    'integration.credentials_replace_failed',
  );
  for (let i = 0; i < 2; i += 1) {
    const rotated = await mutate(REFRESH, { id, webhook: { url: 'https://hooks.example.com/a', enabled: true, rotateSecret: true } });
    webhookSecrets.push(rotated.body.data.refreshIntegration.webhookSigningSecret);
    record(rotated, 'SUCCEEDED', 'integration.webhook_updated');
  }
  // Provider answers that echo secrets must not be passed on either.
  gw.fake.fault('github', 'api', { status: 503, body: { message: `upstream failed for ${LEAKY[0]}` } }, Infinity);
  record(await mutate(TEST, { id }), 'FAILED', 'integration.tested');
  gw.fake.reset();
  record(await mutate(REVOKE, { id }), 'SUCCEEDED', 'integration.revoked');

  // An OAuth2 integration: authorization, refresh (good and refused), test, revocation.
  const started = await gw.startOAuth('gitlab');
  record(started, 'SUCCEEDED', 'integration.authorization_started');
  const oauthId = started.body.data.connectIntegration.integration.id;
  const atProvider = await fetch(started.body.data.connectIntegration.authorizationUrl, { redirect: 'manual' });
  const callbackId = randomUUID();
  const callback = await gw.fetch(atProvider.headers.get('location') as string, {
    headers: { 'x-request-id': callbackId },
    redirect: 'manual',
  });
  gw.responses.push(callback.headers.get('location') ?? '', await callback.text());
  sent.push({ requestId: callbackId, types: ['integration.authorized'], outcome: 'SUCCEEDED' });
  record(await mutate(REFRESH, { id: oauthId, refreshTokens: true }), 'SUCCEEDED', 'integration.tokens_refreshed');
  record(await mutate(TEST, { id: oauthId }), 'SUCCEEDED', 'integration.tested');
  gw.fake.fault('gitlab', 'token', { status: 502 });
  record(await mutate(REFRESH, { id: oauthId, refreshTokens: true }), 'FAILED', 'integration.refresh_failed');
  gw.fake.fault('gitlab', 'token', { status: 200, body: { access_token: LEAKY[1], refresh_token: LEAKY[2], token_type: 'mac' } });
  record(await mutate(REFRESH, { id: oauthId, refreshTokens: true }), 'FAILED', 'integration.refresh_failed');
  record(await mutate(REVOKE, { id: oauthId }), 'SUCCEEDED', 'integration.revoked');
  const denied = await gw.startOAuth('slack');
  record(denied, 'SUCCEEDED', 'integration.authorization_started');
  gw.fake.knobs('slack').denyAuthorization = true;
  await gw.authorize(denied.body.data.connectIntegration.authorizationUrl);
});
afterAll(() => gw.close());

describe('every mutation leaves an integration_events row', () => {
  it('with its type, outcome, the actor key and the request id', async () => {
    const editor = (await findApiKeyRow(gw.db, gw.world.acme.keys.EDITOR)).id;
    const events = await gw.events();
    for (const { requestId, types, outcome } of sent) {
      const mine = events.filter((event) => event.request_id === requestId);
      expect(
        mine.map((event) => event.type),
        requestId,
      ).toEqual(types);
      for (const event of mine) expect(event).toMatchObject({ outcome, actor_key_id: editor });
    }
    expect(events.filter((event) => event.type === 'integration.authorization_failed')).toEqual([
      expect.objectContaining({ actor_key_id: editor, detail: { reason: 'access_denied' } }),
    ]);
  });

  it('refused and invalid mutations that changed nothing leave no event', async () => {
    const before = (await gw.events()).length;
    const { id } = await gw.db.selectFrom('integrations').select('id').where('status', '!=', 'REVOKED').executeTakeFirstOrThrow();
    const viewer = await gw.graphql(gw.world.acme.keys.VIEWER, TEST, { input: { id: encodeGlobalID('Integration', id) } });
    expect(viewer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const invalid = await gw.graphql(
      gw.world.acme.keys.EDITOR,
      'mutation { connectIntegration(input: { provider: "nope", authKind: API_TOKEN, displayName: "x" }) { userErrors { code } } }',
    );
    expect(invalid.body.data.connectIntegration.userErrors).toEqual([{ code: 'VALIDATION' }]);
    expect((await gw.events()).length).toBe(before);
  });
});

describe('no secret leaves the gateway', () => {
  const leaks = (texts: readonly string[], secrets: readonly string[]) =>
    secrets.filter((secret) => texts.some((text) => text.includes(secret))).map((secret) => `${secret.slice(0, 12)}…`);
  const providerSecrets = () => [
    ...gw.fake.secrets(),
    'not-the-password-1',
    'ghp_rejected-replacement-0001',
    ...LEAKY,
    ...Object.values(gw.world.acme.keys),
  ];

  it('in any response body or redirect', () => {
    expect(gw.responses.length).toBeGreaterThan(20);
    expect(leaks(gw.responses, providerSecrets())).toEqual([]);
    // A webhook signing secret appears once: in the response that rotated it.
    for (const secret of webhookSecrets) expect(gw.responses.filter((text) => text.includes(secret))).toHaveLength(1);
  });

  it('in any log line', () => {
    expect(gw.logs.length).toBeGreaterThan(0);
    expect(leaks(gw.logs, [...providerSecrets(), ...webhookSecrets])).toEqual([]);
  });

  it('in any event detail, health check, or readable column of the database', async () => {
    const events = await gw.db.selectFrom('integration_events').selectAll().execute();
    const checks = await gw.db.selectFrom('integration_health_checks').selectAll().execute();
    const rows = await gw.db.selectFrom('integrations').selectAll().execute();
    const texts = [...events, ...checks, ...rows.map(({ secret_ciphertext: _sealed, ...row }) => row)].map((row) => JSON.stringify(row));
    expect(leaks(texts, [...providerSecrets(), ...webhookSecrets])).toEqual([]);
    const sealed = rows.map((row) => row.secret_ciphertext ?? '');
    expect(leaks(sealed, [...providerSecrets(), ...webhookSecrets])).toEqual([]);
  });

  it('a revoked integration keeps no secret at all', async () => {
    const revoked = await gw.db.selectFrom('integrations').selectAll().where('status', '=', 'REVOKED').execute();
    expect(revoked).toHaveLength(2);
    for (const row of revoked) expect(row).toMatchObject({ secret_ciphertext: null, secret_key_id: null, credential_expires_at: null });
  });
});
