import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';
import { TEST } from './support/integration-flows.js';

const INTERVAL_SECONDS = 2;
const FIELDS = `id status health nextHealthCheckAt healthCheckIntervalSeconds healthChecksPaused
  lastHealthCheck { ok httpStatus checkedAt } healthChecks(first: 20) { edges { node { ok httpStatus errorCode } } }`;
const NODE = `query($id: ID!) { node(id: $id) { ... on Integration { ${FIELDS} } } }`;
const CONNECT = `mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
  integration { ${FIELDS} } userErrors { code field message } } }`;
const REFRESH = `mutation($input: RefreshIntegrationInput!) { refreshIntegration(input: $input) {
  integration { ${FIELDS} } userErrors { code field message } } }`;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({ HEALTH_CHECK_INTERVAL_SECONDS: String(INTERVAL_SECONDS), WORKER_POLL_INTERVAL_MS: '100' });
  await world.startEngine();
});
afterAll(() => world?.close());

const node = async (id: string) => (await world.graphql(world.org.keys.VIEWER, NODE, { id })).data.node;
const secondsAhead = (at: string) => (new Date(at).getTime() - Date.now()) / 1000;

async function connect(provider: string, extra: Record<string, unknown> = {}) {
  const input = { provider, authKind: 'API_TOKEN', displayName: provider, credentials: { token: world.fake.issueApiToken(provider) } };
  return (await world.graphql(world.org.keys.EDITOR, CONNECT, { input: { ...input, ...extra } })).data.connectIntegration;
}

async function refresh(id: string, extra: Record<string, unknown>) {
  return (await world.graphql(world.org.keys.EDITOR, REFRESH, { input: { id, ...extra } })).data.refreshIntegration;
}

/** Waits for a scheduled probe of the integration after `checks` recorded ones; the integration then. */
async function probedAfter(id: string, checks: number, timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const current = await node(id);
      return current.healthChecks.edges.length > checks ? current : null;
    },
    timeoutMs,
    'a scheduled probe',
  );
}

describe("an integration's own schedule of health probes", () => {
  it('takes its own interval, bounded, from connect and refresh, and returns to the default when cleared', async () => {
    const before = await world.db
      .selectFrom('integrations')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    for (const seconds of [59, 86_401]) {
      const refused = await connect('github', { healthCheckIntervalSeconds: seconds });
      expect(refused.integration).toBeNull();
      expect(refused.userErrors).toEqual([
        { code: 'VALIDATION', field: ['input', 'healthCheckIntervalSeconds'], message: expect.any(String) },
      ]);
    }
    const after = await world.db
      .selectFrom('integrations')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);

    const own = (await connect('github', { healthCheckIntervalSeconds: 120 })).integration;
    expect(own).toMatchObject({ healthCheckIntervalSeconds: 120, healthChecksPaused: false });
    // Its first check falls within its own interval, not the deployment's.
    const first = await waitFor(async () => (await node(own.id)).nextHealthCheckAt as string | null, 5_000, 'the first check');
    expect(secondsAhead(first)).toBeLessThanOrEqual(120);

    const plain = (await connect('github')).integration;
    expect(plain).toMatchObject({ healthCheckIntervalSeconds: null, healthChecksPaused: false });
    const checks = (await probedAfter(plain.id, 1)).healthChecks.edges.length;
    const longer = (await refresh(plain.id, { healthCheckIntervalSeconds: 600 })).integration;
    expect(longer.healthCheckIntervalSeconds).toBe(600);
    // The check scheduled under the old interval is made; the next one is an own interval later.
    const probed = await probedAfter(plain.id, checks);
    expect(secondsAhead(probed.nextHealthCheckAt)).toBeGreaterThan(600 * 0.9 - 5);

    const refused = await refresh(plain.id, { healthCheckIntervalSeconds: 0 });
    expect(refused.userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'healthCheckIntervalSeconds'], message: expect.any(String) },
    ]);
    expect((await node(plain.id)).healthCheckIntervalSeconds).toBe(600);

    // Cleared: the sweep brings the check scheduled ten minutes ahead back within the default interval.
    expect((await refresh(plain.id, { healthCheckIntervalSeconds: null })).integration.healthCheckIntervalSeconds).toBeNull();
    await waitFor(
      async () => secondsAhead((await node(plain.id)).nextHealthCheckAt) <= INTERVAL_SECONDS * 1.1 + 1,
      5_000,
      'the default interval again',
    );
    for (const id of [own.id, plain.id]) await refresh(id, { healthChecksPaused: true });
  });

  it('pauses scheduled probes (none scheduled, none made) while testIntegration still probes, and resumes them', async () => {
    const { integration } = await connect('gitlab');
    const { id } = integration;
    await waitFor(async () => (await node(id)).nextHealthCheckAt, 5_000, 'the first check scheduled');
    const paused = await refresh(id, { healthChecksPaused: true });
    expect(paused.userErrors).toEqual([]);
    expect(paused.integration).toMatchObject({ healthChecksPaused: true, nextHealthCheckAt: null });

    world.fake.reset();
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_SECONDS * 1000 * 3));
    expect(world.fake.calls('gitlab', 'api')).toBe(0);
    expect((await node(id)).nextHealthCheckAt).toBeNull();

    const tested = (await world.graphql(world.org.keys.EDITOR, TEST, { input: { id } })).data.testIntegration;
    expect(tested.healthCheck).toMatchObject({ ok: true });
    expect(world.fake.calls('gitlab', 'api')).toBe(1);
    expect((await node(id)).nextHealthCheckAt).toBeNull();

    const resumed = await refresh(id, { healthChecksPaused: false });
    expect(resumed.integration.healthChecksPaused).toBe(false);
    const next = await waitFor(async () => (await node(id)).nextHealthCheckAt as string | null, 5_000, 'the check scheduled again');
    expect(secondsAhead(next)).toBeLessThanOrEqual(INTERVAL_SECONDS * 1.1);

    const events = await world.db
      .selectFrom('integration_events')
      .select(['type', 'outcome', 'detail'])
      .where('integration_id', '=', decodeTypedID(id, 'Integration'))
      .where('type', '=', 'integration.schedule_updated')
      .orderBy('created_at')
      .execute();
    expect(events.map((event) => event.detail)).toEqual([
      { healthCheckIntervalSeconds: null, healthChecksPaused: true },
      { healthCheckIntervalSeconds: null, healthChecksPaused: false },
    ]);
    await refresh(id, { healthChecksPaused: true });
  });

  it("never probes again before the provider's Retry-After", async () => {
    const { integration } = await connect('github');
    const checks = (await node(integration.id)).healthChecks.edges.length;
    world.fake.fault('github', 'api', { status: 429, retryAfter: 120 });
    const limited = await probedAfter(integration.id, checks);
    expect(limited).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED', lastHealthCheck: { ok: false, httpStatus: 429 } });
    expect(limited.healthChecks.edges[0].node.errorCode).toBe('PROVIDER_RATE_LIMITED');
    // The backoff alone would wait two intervals (4 s).
    const wait = (Date.parse(limited.nextHealthCheckAt) - Date.parse(limited.lastHealthCheck.checkedAt)) / 1000;
    expect(wait).toBeGreaterThanOrEqual(119);
    expect(wait).toBeLessThanOrEqual(121);
    await refresh(integration.id, { healthChecksPaused: true });
  });

  it("takes a spent rate limit's reset (GitHub's 403 with x-ratelimit-remaining 0) as a wait, not as a refused credential", async () => {
    const { integration } = await connect('github');
    const checks = (await node(integration.id)).healthChecks.edges.length;
    const reset = Math.ceil(Date.now() / 1000) + 300;
    world.fake.fault('github', 'api', {
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      body: { message: 'API rate limit exceeded' },
    });
    const limited = await probedAfter(integration.id, checks);
    expect(limited).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED', lastHealthCheck: { ok: false, httpStatus: 403 } });
    expect(limited.healthChecks.edges[0].node.errorCode).toBe('PROVIDER_RATE_LIMITED');
    expect(Date.parse(limited.nextHealthCheckAt)).toBeGreaterThanOrEqual(reset * 1000 - 1_000);
    await refresh(integration.id, { healthChecksPaused: true });
  });
});
