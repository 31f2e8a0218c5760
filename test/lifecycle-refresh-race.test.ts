import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { authenticate } from '../src/modules/api-key/api-key.service.js';
import type { MutationActor } from '../src/modules/integration/integration.audit.js';
import { refreshWithLock } from '../src/modules/integration/tokens.service.js';
import { KeyRing, rotateSecrets, SecretVault } from '../src/secrets/index.js';
import type { Vault } from '../src/services.js';
import { testDatabaseKind } from './support/database.js';
import { childEnv, runCli } from './support/process.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, requestsWaitingForLease, TEST } from './support/integration-flows.js';

/**
 * A forced refresh (`refreshIntegration(refreshTokens: true)`) is skipped when a token refresh of the
 * integration was recorded at or after the moment its request began: that refresh ran concurrently and
 * its result stands. Anything else, a secret rotation included, does not make it skip.
 */
const oldKey = randomBytes(32);
const newKey = randomBytes(32);
/** The gateway's vault; `rotateKeys` switches it to the new key as a restarted gateway would be. */
let vault = new SecretVault(new KeyRing(oldKey));
const switchable: Vault = {
  seal: (value, binding) => vault.seal(value, binding),
  open: (ciphertext, keyId, binding) => vault.open(ciphertext, keyId, binding),
  derive: (purpose) => vault.derive(purpose),
};

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, listen: true, services: { vault: switchable } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const refresh = (id: string) => gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } });
const refreshedEvents = async (id: string) => (await gw.events(id)).filter((event) => event.type === 'integration.tokens_refreshed');

/** The EDITOR as a mutation sees it, for calling the service directly with a chosen start time. */
async function editorActor(startedAt: Date): Promise<MutationActor> {
  const result = await authenticate(gw.db, `Bearer ${gw.world.acme.keys.EDITOR}`, () => {});
  if (!('viewer' in result)) throw new Error('the EDITOR key did not authenticate');
  return { viewer: result.viewer, requestId: 'race-test', resume: null, startedAt };
}

async function until(condition: () => boolean | Promise<boolean>, what: string) {
  for (const started = Date.now(); Date.now() - started < 15_000; ) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Until `count` requests wait for the one calling the provider (each logs its first wait). */
async function lockWaiters(id: string, count: number) {
  return until(() => requestsWaitingForLease(gw.logs, id) === count, `${count} waiting requests`);
}

/** Re-encrypts every secret with a new key: `secrets rotate` from the CLI on PostgreSQL, its function on PGlite (single-process). */
async function rotateKeys(): Promise<number> {
  vault = new SecretVault(new KeyRing(newKey, [oldKey]));
  if (testDatabaseKind !== 'postgres') return (await rotateSecrets(gw.db, vault)).rotated;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-race-'));
  try {
    const env = childEnv({
      DATABASE_URL: gw.database.url ?? undefined,
      DATA_DIR: dataDir,
      ENCRYPTION_KEY: newKey.toString('base64'),
      ENCRYPTION_KEYS_PREVIOUS: oldKey.toString('base64'),
    });
    const result = await runCli(['secrets', 'rotate', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { rotated: number }).rotated;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('a forced refresh that raced another one makes no second token call', () => {
  it('a request that began before the other refresh committed, and reads the row after it, shares its result', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    let release = () => {};
    gw.fake.fault('gitlab', 'token', { until: new Promise<void>((resolve) => (release = resolve)) });
    const first = refresh(id);
    // The first refresh holds the lease while the provider answers; the second request begins now.
    await until(() => gw.fake.calls('gitlab', 'token') === 1, 'the first token call');
    const second = refresh(id);
    await lockWaiters(id, 1);
    release();
    const answers = [(await first).body.data.refreshIntegration, (await second).body.data.refreshIntegration];
    expect(answers.map((answer) => answer.userErrors)).toEqual([[], []]);
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    expect(answers[1].integration.credentialExpiresAt).toBe(answers[0].integration.credentialExpiresAt);
    expect(await refreshedEvents(id)).toHaveLength(1);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: gw.fake.latestGrant('gitlab')?.refreshToken });
  });

  it('the same, through the service: began before, reads the row after the commit', async () => {
    const id = await gw.connectOAuth('pagerduty');
    const began = new Date();
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    gw.fake.reset();
    const result = await refreshWithLock(gw.services, gw.db, await editorActor(began), decodeTypedID(id, 'Integration'), {
      kind: 'force',
      since: began,
    });
    expect(result.refreshed).toBe(false);
    expect(result.row.secret_version).toBe((await gw.row(id)).secret_version);
    expect(gw.fake.calls('pagerduty', 'token')).toBe(0);
  });
});

describe('a forced refresh after another one completed calls the provider', () => {
  it('a request that begins after a refresh completed refreshes again', async () => {
    const id = await gw.connectOAuth('gitlab');
    gw.fake.reset();
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    const between = gw.fake.latestGrant('gitlab')?.refreshToken;
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('gitlab', 'token', 'refresh_token')).toBe(2);
    expect(gw.fake.latestGrant('gitlab')?.refreshToken).not.toBe(between);
    expect(await refreshedEvents(id)).toHaveLength(2);

    // Through the service: a start after the last refresh event refreshes.
    const began = new Date(Date.now() + 5);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const result = await refreshWithLock(gw.services, gw.db, await editorActor(began), decodeTypedID(id, 'Integration'), {
      kind: 'force',
      since: began,
    });
    expect(result.refreshed).toBe(true);
    expect(gw.fake.calls('gitlab', 'token', 'refresh_token')).toBe(3);
  });

  it('`secrets rotate` between two refreshes (a new secret version) does not make the second one skip', async () => {
    const id = await gw.connectOAuth('datadog');
    gw.fake.reset();
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    const before = await gw.row(id);
    const began = new Date();
    expect(await rotateKeys()).toBeGreaterThanOrEqual(1);
    const rotated = await gw.row(id);
    expect(rotated.secret_version).toBe(before.secret_version + 1);
    expect(rotated.secret_key_id).not.toBe(before.secret_key_id);

    // A request that began before the rotation, and one after it: both call the provider.
    const direct = await refreshWithLock(gw.services, gw.db, await editorActor(began), decodeTypedID(id, 'Integration'), {
      kind: 'force',
      since: began,
    });
    expect(direct.refreshed).toBe(true);
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('datadog', 'token', 'refresh_token')).toBe(3);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: gw.fake.latestGrant('datadog')?.refreshToken });
    expect((await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } })).body.data.testIntegration.healthCheck.ok).toBe(true);
  });
});

describe('a request cancelled after the provider answered a refresh does not lose the rotated refresh token', () => {
  /** Sends a mutation over real HTTP and hangs up once `hangUp` resolves; the answer is never read. */
  async function sendAndHangUp(query: string, input: Record<string, unknown>, hangUp: () => Promise<void>) {
    const controller = new AbortController();
    const sent = fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.world.acme.keys.EDITOR}` },
      body: JSON.stringify({ query, variables: { input } }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await hangUp();
    controller.abort();
    expect(await sent).toMatchObject({ name: 'AbortError' });
  }

  it('cancelled during the probe that follows the refresh of an expired token', async () => {
    const id = await gw.connectOAuth('datadog');
    const old = gw.fake.latestGrant('datadog')?.refreshToken as string;
    await gw.db
      .updateTable('integrations')
      .set({ credential_expires_at: sql<Date>`now() - interval '1 minute'` })
      .where('id', '=', decodeTypedID(id, 'Integration'))
      .execute();
    gw.fake.expireAccessTokens('datadog');
    gw.fake.reset();
    let release = () => {};
    gw.fake.fault('datadog', 'api', { until: new Promise<void>((resolve) => (release = resolve)) });
    await sendAndHangUp(TEST, { id }, () => until(() => gw.fake.calls('datadog', 'api') === 1, 'the probe'));
    // The refresh committed before the probe started.
    expect(gw.fake.calls('datadog', 'token', 'refresh_token')).toBe(1);
    expect(gw.fake.refreshTokenIsLive(old)).toBe(false);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: gw.fake.latestGrant('datadog')?.refreshToken });
    release();
    await until(async () => (await gw.events(id)).some((event) => event.type === 'integration.tested'), 'the test to be recorded');
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('datadog', 'token', 'refresh_token')).toBe(2);
  });

  it('cancelled while the provider answers the refresh itself', async () => {
    const id = await gw.connectOAuth('gitlab');
    const old = gw.fake.latestGrant('gitlab')?.refreshToken as string;
    gw.fake.reset();
    let release = () => {};
    gw.fake.fault('gitlab', 'token', { until: new Promise<void>((resolve) => (release = resolve)) });
    await sendAndHangUp(REFRESH, { id, refreshTokens: true }, () => until(() => gw.fake.calls('gitlab', 'token') === 1, 'the token call'));
    release();
    // The gateway finishes what it started: the rotated token is committed although nobody waits for it.
    await until(async () => (await refreshedEvents(id)).length === 1, 'the refresh to commit');
    expect(gw.fake.refreshTokenIsLive(old)).toBe(false);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: gw.fake.latestGrant('gitlab')?.refreshToken });
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('gitlab', 'token', 'refresh_token')).toBe(2);
  });
});
