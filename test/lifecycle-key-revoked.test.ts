import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueApiKey, revokeApiKey } from '../src/modules/api-key/api-key.service.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { configFor, CONNECT, CONNECTING_GATEWAY, REVOKE, TEST } from './support/integration-flows.js';

/**
 * A request authenticates when it arrives. A mutation that has run for a second or more reads its API
 * key again in its committing transaction: a key revoked meanwhile rolls the mutation back.
 */
let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway(CONNECTING_GATEWAY);
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

async function until(condition: () => boolean, what: string) {
  for (const started = Date.now(); Date.now() - started < 15_000; ) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** An EDITOR key of its own, so that revoking it leaves the fixture's keys alone. */
async function doomedEditor() {
  const issued = await issueApiKey(gw.db, { organizationId: gw.world.acme.organization.id, role: 'EDITOR' });
  return { key: issued.secret, revoke: () => revokeApiKey(gw.db, gw.world.acme.organization.id, issued.apiKey.id) };
}

/**
 * Sends a mutation while the provider holds its answer to `endpoint`; once the provider was called, runs
 * `meanwhile`, and lets the provider answer after the request has run for more than a second.
 */
async function heldOverASecond(
  provider: string,
  endpoint: 'api' | 'revoke',
  key: string,
  query: string,
  input: Record<string, unknown>,
  meanwhile: () => Promise<unknown>,
) {
  let release = () => {};
  gw.fake.fault(provider, endpoint, { until: new Promise<void>((resolve) => (release = resolve)) });
  const calls = gw.fake.calls(provider, endpoint);
  const sentAt = Date.now();
  const answer = gw.graphql(key, query, { input });
  await until(() => gw.fake.calls(provider, endpoint) > calls, `the ${endpoint} call`);
  const done = meanwhile();
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1200 - (Date.now() - sentAt))));
  release();
  await done;
  return answer;
}

const count = async (table: 'integrations' | 'integration_events' | 'integration_health_checks') =>
  Number(
    (
      await gw.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('a key revoked while its mutation waits on the provider for over a second', () => {
  it('connectIntegration: UNAUTHENTICATED, and no integration or event is stored', async () => {
    const { key, revoke } = await doomedEditor();
    const before = { integrations: await count('integrations'), events: await count('integration_events') };
    const input = {
      provider: 'github',
      authKind: 'API_TOKEN',
      displayName: 'held',
      config: configFor('github', gw.fake),
      credentials: { token: gw.fake.issueApiToken('github') },
    };
    const answer = await heldOverASecond('github', 'api', key, CONNECT, input, revoke);
    expect(answer.status).toBe(401);
    expect(answer.body.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    expect(answer.body.errors?.[0]?.message).toMatch(/revoked while this request ran/);
    expect({ integrations: await count('integrations'), events: await count('integration_events') }).toEqual(before);
  });

  it('testIntegration: UNAUTHENTICATED, and no health check is recorded', async () => {
    const id = (await gw.connect('gitlab', 'API_TOKEN')).body.data.connectIntegration.integration.id as string;
    const { key, revoke } = await doomedEditor();
    const row = await gw.row(id);
    const before = { checks: await count('integration_health_checks'), events: await count('integration_events') };
    const answer = await heldOverASecond('gitlab', 'api', key, TEST, { id }, revoke);
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect({ checks: await count('integration_health_checks'), events: await count('integration_events') }).toEqual(before);
    expect((await gw.row(id)).row_version).toBe(row.row_version);
  });

  it('revokeIntegration: UNAUTHENTICATED, and the integration keeps its credential', async () => {
    const id = await gw.connectOAuth('gitlab');
    const { key, revoke } = await doomedEditor();
    const answer = await heldOverASecond('gitlab', 'revoke', key, REVOKE, { id }, revoke);
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', revoked_at: null, secret_ciphertext: expect.any(String) });
    expect((await gw.events(id)).some((event) => event.type === 'integration.revoked')).toBe(false);
  });

  it('a key that stays valid commits as always after the same wait', async () => {
    const { key } = await doomedEditor();
    const input = {
      provider: 'github',
      authKind: 'API_TOKEN',
      displayName: 'held, kept',
      config: configFor('github', gw.fake),
      credentials: { token: gw.fake.issueApiToken('github') },
    };
    const answer = await heldOverASecond('github', 'api', key, CONNECT, input, async () => {});
    expect(answer.status).toBe(200);
    expect(answer.body.data.connectIntegration).toMatchObject({
      userErrors: [],
      integration: { status: 'ACTIVE', displayName: 'held, kept' },
    });
  });
});
