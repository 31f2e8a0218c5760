import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { SCHEDULER_KEY_ID } from '../src/jobs/scheduler-actor.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';

const INTERVAL_SECONDS = 2;
const SCHEDULE = `query($id: ID!) { node(id: $id) { ... on Integration {
  status health nextHealthCheckAt lastHealthCheck { ok httpStatus }
  healthChecks(first: 10) { edges { node { ok httpStatus errorCode } } } } } }`;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({ HEALTH_CHECK_INTERVAL_SECONDS: String(INTERVAL_SECONDS), WORKER_POLL_INTERVAL_MS: '100' });
});
afterAll(() => world?.close());

const integration = async (id: string) => (await world.graphql(world.org.keys.VIEWER, SCHEDULE, { id })).data.node;

describe('scheduled health probes', () => {
  it('notice a token that dies, without any mutation, within one interval of its death', async () => {
    await world.startEngine();
    const token = world.fake.issueApiToken('github');
    const id = await world.connectToken('github', token);
    expect((await integration(id)).health).toBe('HEALTHY');
    // The sweep gives a new integration its first check within one interval.
    const first = await waitFor(
      async () => (await integration(id)).nextHealthCheckAt as string | null,
      5_000,
      'the first check scheduled',
    );
    expect(new Date(first).getTime()).toBeLessThanOrEqual(Date.now() + INTERVAL_SECONDS * 1000);

    world.fake.revokeCredential('github', { token });
    const diedAt = Date.now();
    const after = await waitFor(
      async () => {
        const node = await integration(id);
        return node.status === 'NEEDS_REAUTH' ? node : null;
      },
      INTERVAL_SECONDS * 1100 + 2_000,
      'the dead token noticed',
    );
    // One interval (jittered up to +10%) and the time a worker takes to see the due job.
    expect(Date.now() - diedAt).toBeLessThanOrEqual(INTERVAL_SECONDS * 1100 + 1_000);
    expect(after.health).toBe('UNHEALTHY');
    expect(after.lastHealthCheck).toMatchObject({ ok: false, httpStatus: 401 });
    expect(after.healthChecks.edges[0].node).toMatchObject({ ok: false, httpStatus: 401, errorCode: 'PROVIDER_REJECTED_CREDENTIALS' });
    // A failed check backs off: the next one is at least two intervals (less jitter) away.
    expect(new Date(after.nextHealthCheckAt).getTime() - Date.now()).toBeGreaterThan(INTERVAL_SECONDS * 1000 * 2 * 0.9 - 1_000);

    const events = await world.db
      .selectFrom('integration_events')
      .select(['type', 'outcome', 'actor_key_id', 'request_id', 'detail'])
      .where('integration_id', '=', decodeTypedID(id, 'Integration'))
      .where('type', '=', 'integration.tested')
      .orderBy('created_at')
      .execute();
    const scheduled = events.filter((event) => event.actor_key_id === SCHEDULER_KEY_ID);
    expect(scheduled.length).toBeGreaterThanOrEqual(1);
    expect(scheduled.at(-1)).toMatchObject({ outcome: 'FAILED', detail: { scheduled: true, httpStatus: 401 } });
    expect(scheduled.at(-1)?.request_id).toMatch(/^scheduler:integration\.probe:/);
  });

  it('probe each integration once per interval with two runners sharing the queue, and never one without a credential', async () => {
    await world.startEngine();
    const tokens = Array.from({ length: 6 }, () => world.fake.issueApiToken('gitlab'));
    const ids = await Promise.all(tokens.map((token) => world.connectToken('gitlab', token)));
    const pending = (
      await world.graphql(
        world.org.keys.EDITOR,
        'mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) { integration { id } } }',
        {
          input: { provider: 'gitlab', authKind: 'OAUTH2', displayName: 'waiting', oauth2: { returnUrl: 'https://app.example.com/done' } },
        },
      )
    ).data.connectIntegration.integration.id as string;
    await waitFor(
      async () => (await Promise.all(ids.map(integration))).every((node) => node.nextHealthCheckAt !== null),
      5_000,
      'every integration scheduled',
    );
    world.fake.reset();
    const windowMs = INTERVAL_SECONDS * 1000 * 3;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const probes = world.fake.calls('gitlab', 'api');
    // Each integration once per interval (jittered ±10%): three windows give two to four probes each, never a burst.
    expect(probes).toBeGreaterThanOrEqual(ids.length * 2);
    expect(probes).toBeLessThanOrEqual(ids.length * 4);
    expect((await world.row(pending)).next_health_check_at).toBeNull();
  });
});
