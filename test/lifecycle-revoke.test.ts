import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listConnectors } from '../src/connectors/registry.js';
import { findApiKeyRow } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REVOKE } from './support/integration-flows.js';
import { sendGraphQL } from './support/request.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const revoke = (id: string) => gw.graphql(gw.world.acme.keys.EDITOR, REVOKE, { input: { id } });

describe('revokeIntegration', () => {
  it('records who revoked and when, and keeps the row as a tombstone', async () => {
    const id = await gw.connectOAuth('gitlab');
    const before = Date.now();
    const payload = (await revoke(id)).body.data.revokeIntegration;
    expect(payload).toMatchObject({ revokedAtProvider: true, providerMessage: null, userErrors: [] });
    const row = await gw.row(id);
    expect(row).toMatchObject({
      status: 'REVOKED',
      revoked_by_key_id: (await findApiKeyRow(gw.db, gw.world.acme.keys.EDITOR)).id,
      secret_ciphertext: null,
      secret_key_id: null,
    });
    expect(row.revoked_at?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.status_reason).toContain(gw.world.acme.keys.EDITOR.slice(0, 16));
    // Still readable, when asked for, as REVOKED.
    const read = await gw.graphql(
      gw.world.acme.keys.VIEWER,
      'query($id: ID!) { integration(id: $id) { status revokedAt hasCredentials } }',
      {
        id,
      },
    );
    expect(read.body.data.integration).toEqual({ status: 'REVOKED', revokedAt: row.revoked_at?.toISOString(), hasCredentials: false });
  });

  it.each([
    ['HTTP 503', { status: 503 }],
    ['a dropped connection', { drop: true }],
    ['a timeout', { delayMs: 2000 }],
  ])('the provider failing to revoke (%s): revoked locally all the same, and the payload says why', async (_name, fault) => {
    const id = await gw.connectOAuth('pagerduty');
    const token = gw.fake.latestGrant('pagerduty')?.accessToken as string;
    gw.fake.fault('pagerduty', 'revoke', fault, Infinity);
    const payload = (await revoke(id)).body.data.revokeIntegration;
    expect(payload.userErrors).toEqual([]);
    expect(payload.revokedAtProvider).toBe(false);
    expect(payload.providerMessage).toEqual(expect.any(String));
    expect(payload.providerMessage).not.toContain(token);
    expect(payload.integration).toMatchObject({ status: 'REVOKED', hasCredentials: false });
    expect(await gw.row(id)).toMatchObject({ status: 'REVOKED', secret_ciphertext: null });
    expect((await gw.events(id)).at(-1)).toMatchObject({ type: 'integration.revoked', detail: { revokedAtProvider: false } });
    gw.fake.reset();
    expect((await revoke(id)).body.data.revokeIntegration.userErrors).toEqual([expect.objectContaining({ code: 'ALREADY_REVOKED' })]);
    expect(gw.fake.calls('pagerduty')).toBe(0);
  });

  it('a revoked integration is not HEALTHY: its health is UNKNOWN and its last check is the revocation', async () => {
    const id = await gw.connectOAuth('gitlab');
    expect(await gw.row(id)).toMatchObject({ health: 'HEALTHY', last_check_ok: true });
    const payload = (await revoke(id)).body.data.revokeIntegration;
    expect(payload.userErrors).toEqual([]);
    const prefix = gw.world.acme.keys.EDITOR.slice(0, 16);
    expect(payload.integration).toMatchObject({ status: 'REVOKED', health: 'UNKNOWN', lastHealthCheck: { ok: false, httpStatus: null } });
    expect(payload.integration.lastHealthCheck.message).toContain(`Revoked by API key ${prefix}`);
    const row = await gw.row(id);
    expect(row).toMatchObject({ health: 'UNKNOWN', consecutive_failures: 0, last_check_ok: false, last_check_at: row.revoked_at });
    // Filtering by health finds it among the unknown ones, not the healthy ones.
    const list = (healths: string[]) =>
      gw.graphql(
        gw.world.acme.keys.VIEWER,
        'query($f: IntegrationFilter) { integrations(first: 10, filter: $f) { edges { node { id } } } }',
        {
          f: { statuses: ['REVOKED'], healths },
        },
      );
    const ids = async (healths: string[]) =>
      (await list(healths)).body.data.integrations.edges.map((edge: { node: { id: string } }) => edge.node.id);
    expect(await ids(['HEALTHY'])).not.toContain(id);
    expect(await ids(['UNKNOWN'])).toContain(id);
  });

  it('concurrent revocations call the provider once; the others are ALREADY_REVOKED userErrors', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    const editor = (await findApiKeyRow(gw.db, gw.world.acme.keys.EDITOR)).id;
    const query =
      'mutation($input: RevokeIntegrationInput!) { revokeIntegration(input: $input) { revokedAtProvider userErrors { code field } } }';
    const answers = await Promise.all(Array.from({ length: 5 }, () => gw.graphql(gw.world.acme.keys.EDITOR, query, { input: { id } })));
    const payloads = answers.map((answer) => answer.body.data.revokeIntegration);
    expect(payloads.filter((payload) => payload.userErrors.length === 0)).toEqual([{ revokedAtProvider: true, userErrors: [] }]);
    expect(payloads.filter((payload) => payload.userErrors.length > 0)).toEqual(
      Array.from({ length: 4 }, () => ({ revokedAtProvider: false, userErrors: [{ code: 'ALREADY_REVOKED', field: ['input', 'id'] }] })),
    );
    // RFC 7009: the access token and the refresh token, each once.
    expect(gw.fake.calls('gitlab', 'revoke')).toBe(2);
    expect((await gw.events(id)).filter((event) => event.type === 'integration.revoked')).toEqual([
      expect.objectContaining({ actor_key_id: editor }),
    ]);
  });
});

describe('the providers query shows what this deployment has configured', () => {
  const QUERY = '{ providers { key authKinds oauth2Configured pkce supportsRevocation } }';

  it('OAuth2 clients configured (the fake provider) and not configured', async () => {
    const configured = (await gw.graphql(gw.world.acme.keys.VIEWER, QUERY)).body.data.providers as {
      key: string;
      authKinds: string[];
      oauth2Configured: boolean;
    }[];
    expect(configured.map((provider) => provider.key).sort()).toEqual(
      listConnectors()
        .map((definition) => definition.key)
        .sort(),
    );
    for (const provider of configured) expect(provider.oauth2Configured, provider.key).toBe(provider.authKinds.includes('OAUTH2'));

    const bare = await createTestGateway({
      database: gw.database,
      logger: pino({ level: 'silent' }),
      services: { ...gw.services, connectorSettings: {} },
    });
    try {
      const response = await sendGraphQL(bare, { key: gw.world.acme.keys.VIEWER, query: QUERY, headers: { accept: null } });
      const providers = response.body.data.providers as { oauth2Configured: boolean }[];
      expect(providers.every((provider) => !provider.oauth2Configured)).toBe(true);
      // And an OAUTH2 connection there is NOT_CONFIGURED, with nothing stored.
      const started = await sendGraphQL(bare, {
        key: gw.world.acme.keys.EDITOR,
        query:
          'mutation { connectIntegration(input: { provider: "gitlab", authKind: OAUTH2, displayName: "x", ' +
          'oauth2: { returnUrl: "https://app.example.com/" } }) { integration { id } userErrors { code field } } }',
        headers: { accept: null },
      });
      expect(started.body.data.connectIntegration).toEqual({
        integration: null,
        userErrors: [{ code: 'NOT_CONFIGURED', field: ['input', 'authKind'] }],
      });
    } finally {
      await bare.close();
    }
  });
});
