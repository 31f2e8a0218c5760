import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.js';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, requestsWaitingForLease, REVOKE } from './support/integration-flows.js';
import { sendGraphQL } from './support/request.js';

/**
 * A token refresh or a revocation calls the provider holding a lease on the integration's row (an owner
 * and an expiry, taken and released in short transactions), not a database connection; its outcome
 * commits with a compare-and-swap on the stored credential.
 */
let gw: TestGateway;
beforeAll(async () => {
  // A deadline long enough that no held provider call times out while a test looks at it.
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 5000 } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const refresh = (id: string) => gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } });
const eventsOf = async (id: string, type: string) => (await gw.events(id)).filter((event) => event.type === type);

async function until(condition: () => boolean | Promise<boolean>, what: string) {
  for (const started = Date.now(); Date.now() - started < 20_000; ) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Holds the next `times` answers of an endpoint until the returned function is called. */
function hold(provider: string, endpoint: 'token' | 'revoke', times = 1): () => void {
  let release = () => {};
  gw.fake.fault(provider, endpoint, { until: new Promise<void>((resolve) => (release = resolve)) }, times);
  return () => release();
}

/** What a process that died holding the lease leaves: its lease (and its refresh start), expired. */
const expireLease = (id: string) =>
  gw.db
    .updateTable('integrations')
    .set({ lease_expires_at: new Date(Date.now() - 60_000), refresh_started_at: new Date(Date.now() - 60_000) })
    .where('id', '=', decodeTypedID(id, 'Integration'))
    .where('lease_owner', 'is not', null)
    .execute();

describe('slow providers do not starve the database pool', () => {
  it('N+10 refreshes and revocations of different integrations wait on the provider while a read answers', async () => {
    // On PostgreSQL, a gateway with a pool of 3 connections; the embedded database has one connection.
    // Two providers, so that the outbound client's per-provider limit (8 calls at once) holds none back.
    const url = gw.database.url;
    const small = url ? await openDatabase({ kind: 'postgres', url, poolSize: 3 }) : null;
    const gateway = small ? await createTestGateway({ database: small, services: gw.services }) : gw;
    try {
      const refreshed = [];
      const revoked = [];
      for (let index = 0; index < 7; index += 1) refreshed.push(await gw.connectOAuth('gitlab'));
      for (let index = 0; index < 6; index += 1) revoked.push(await gw.connectOAuth('datadog'));
      gw.fake.reset();
      const releaseTokens = hold('gitlab', 'token', refreshed.length);
      const releaseRevocations = hold('datadog', 'revoke', revoked.length);
      const send = (key: string, query: string, variables: Record<string, unknown>) =>
        sendGraphQL(gateway, { key, query, variables, headers: { accept: null } });
      let settled = 0;
      const track = <T>(answer: Promise<T>) => answer.finally(() => (settled += 1));
      const refreshes = refreshed.map((id) => track(send(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } })));
      const revocations = revoked.map((id) => track(send(gw.world.acme.keys.EDITOR, REVOKE, { input: { id } })));
      await until(
        () => gw.fake.calls('gitlab', 'token') === 7 && gw.fake.calls('datadog', 'revoke') === 6,
        'every provider call to be held',
      );

      // Thirteen provider calls are held; a read through the same pool answers all the same.
      const read = await send(gw.world.acme.keys.VIEWER, '{ integrations(first: 1) { totalCount } }', {});
      expect(read.status).toBe(200);
      expect(read.body.data.integrations.totalCount).toBeGreaterThanOrEqual(13);
      // Causally before any held call ended: the provider has answered none of them yet.
      expect(settled).toBe(0);

      releaseTokens();
      releaseRevocations();
      for (const answer of await Promise.all(refreshes)) expect(answer.body.data.refreshIntegration.userErrors).toEqual([]);
      for (const answer of await Promise.all(revocations))
        expect(answer.body.data.revokeIntegration).toMatchObject({ revokedAtProvider: true, userErrors: [] });
      // One token call per refresh; RFC 7009 revokes the access and the refresh token of each integration.
      expect(gw.fake.calls('gitlab', 'token')).toBe(7);
      expect(gw.fake.calls('datadog', 'revoke')).toBe(12);
      for (const id of [...refreshed, ...revoked]) expect(await gw.row(id)).toMatchObject({ lease_owner: null, lease_expires_at: null });
    } finally {
      if (gateway !== gw) await gateway.close();
      await small?.close();
    }
  });
});

describe('a refresh and a revocation take turns', () => {
  it('a revocation waits for the refresh in flight, then revokes the tokens it rotated', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    const release = hold('gitlab', 'token');
    const refreshed = refresh(id);
    await until(() => gw.fake.calls('gitlab', 'token') === 1, 'the token call');
    const revoked = gw.graphql(gw.world.acme.keys.EDITOR, REVOKE, { input: { id } });
    await until(() => requestsWaitingForLease(gw.logs, id) === 1, 'the revocation to wait');
    expect(gw.fake.calls('gitlab', 'revoke')).toBe(0);
    release();
    expect((await refreshed).body.data.refreshIntegration.userErrors).toEqual([]);
    expect((await revoked).body.data.revokeIntegration).toMatchObject({ revokedAtProvider: true, userErrors: [] });
    const rotated = gw.fake.latestGrant('gitlab')?.refreshToken as string;
    expect(gw.fake.refreshTokenIsLive(rotated)).toBe(false);
    expect(await gw.row(id)).toMatchObject({ status: 'REVOKED', secret_ciphertext: null, lease_owner: null });
  });
});

describe('a lease whose owner stopped', () => {
  it('expired: a refresh takes it over at once', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    await gw.db
      .updateTable('integrations')
      .set({ lease_owner: randomUUID(), lease_expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', decodeTypedID(id, 'Integration'))
      .execute();
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    expect(await gw.row(id)).toMatchObject({ lease_owner: null, lease_expires_at: null, refresh_attempt_id: null });
  });

  it('not yet expired: a revocation waits for its expiry, then takes it over', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    const expiresAt = Date.now() + 800;
    await gw.db
      .updateTable('integrations')
      .set({ lease_owner: randomUUID(), lease_expires_at: new Date(expiresAt) })
      .where('id', '=', decodeTypedID(id, 'Integration'))
      .execute();
    const answer = gw.graphql(gw.world.acme.keys.EDITOR, REVOKE, { input: { id } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gw.fake.calls('gitlab', 'revoke')).toBe(0);
    expect((await answer).body.data.revokeIntegration).toMatchObject({ revokedAtProvider: true, userErrors: [] });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(await gw.row(id)).toMatchObject({ status: 'REVOKED', lease_owner: null });
  });
});

describe('the compare-and-swap that commits a refresh', () => {
  it('a refresh whose lease was taken over still commits the tokens its provider call rotated', async () => {
    // GitLab rotates refresh tokens: once the first refresh is answered, the token both presented is dead.
    const id = await gw.connectOAuth('gitlab');
    const original = gw.fake.latestGrant('gitlab')?.refreshToken as string;
    gw.fake.reset();
    const releaseFirst = hold('gitlab', 'token');
    const first = refresh(id);
    await until(() => gw.fake.calls('gitlab', 'token') === 1, 'the first token call');
    // The first refresh looks dead: its lease expired. A second request takes it over and calls the provider.
    await expireLease(id);
    const releaseSecond = hold('gitlab', 'token');
    const second = refresh(id);
    await until(() => gw.fake.calls('gitlab', 'token') === 2, 'the second token call');
    const taker = (await gw.row(id)).lease_owner;

    releaseFirst();
    expect((await first).body.data.refreshIntegration.userErrors).toEqual([]);
    const rotated = (await gw.secretsOf(id)).credential as { refreshToken: string };
    expect(rotated.refreshToken).not.toBe(original);
    expect(gw.fake.refreshTokenIsLive(rotated.refreshToken)).toBe(true);
    // The lease stays with the request that took it over.
    expect((await gw.row(id)).lease_owner).toBe(taker);

    // The second refresh presented the original token, which the provider now refuses: a refusal of a
    // credential no longer stored changes nothing, and the request shares the first refresh's result.
    releaseSecond();
    expect((await second).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', refresh_refused_at: null, lease_owner: null, refresh_attempt_id: null });
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: rotated.refreshToken });
    expect(await eventsOf(id, 'integration.tokens_refreshed')).toHaveLength(1);
    expect(await eventsOf(id, 'integration.refresh_failed')).toHaveLength(0);
  });

  it('a refresh answered after a newer credential was committed does not overwrite it', async () => {
    // PagerDuty does not rotate refresh tokens: both refreshes get new access tokens from the same one.
    const id = await gw.connectOAuth('pagerduty');
    gw.fake.reset();
    const releaseFirst = hold('pagerduty', 'token');
    const first = refresh(id);
    await until(() => gw.fake.calls('pagerduty', 'token') === 1, 'the first token call');
    await expireLease(id);
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    const newer = (await gw.secretsOf(id)).credential as { accessToken: string };
    const version = (await gw.row(id)).secret_version;

    releaseFirst();
    const answer = (await first).body.data.refreshIntegration;
    expect(answer.userErrors).toEqual([]);
    expect(gw.fake.calls('pagerduty', 'token')).toBe(2);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ accessToken: newer.accessToken });
    expect(await gw.row(id)).toMatchObject({ secret_version: version, lease_owner: null, refresh_attempt_id: null });
    expect(answer.integration.credentialExpiresAt).toBe((await gw.row(id)).credential_expires_at?.toISOString());
    expect(await eventsOf(id, 'integration.tokens_refreshed')).toHaveLength(1);
    expect(await eventsOf(id, 'integration.refresh_superseded')).toEqual([
      expect.objectContaining({ outcome: 'FAILED', detail: { rotated: false } }),
    ]);
  });
});
