import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { SCHEDULER_KEY_ID } from '../src/jobs/scheduler-actor.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';

/** TOKEN_REFRESH_MAX_AGE_SECONDS here: long enough to see that nothing is refreshed before it, short enough to wait for. */
const MAX_AGE_SECONDS = 8;
const SCHEDULE = `query($id: ID!) { node(id: $id) { ... on Integration { status credentialExpiresAt nextRefreshAt } } }`;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({
    TOKEN_REFRESH_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
    HEALTH_CHECK_INTERVAL_SECONDS: '2',
    WORKER_POLL_INTERVAL_MS: '100',
  });
  // Two runners, as two gateway processes run them.
  await world.startEngine();
  await world.startEngine();
});
afterAll(() => world?.close());

const integration = async (id: string) => (await world.graphql(world.org.keys.VIEWER, SCHEDULE, { id })).data.node;
const obtainedAt = async (id: string) => ((await world.row(id)).credential_obtained_at as Date).getTime();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for the `n`th refresh at the fake's token endpoint; the time it was seen. Polled often, so that
 * the time is within a few milliseconds of the call.
 */
async function nthRefresh(provider: string, n: number): Promise<number> {
  await waitFor(async () => world.fake.calls(provider, 'token', 'refresh_token') >= n, 20_000, `refresh ${n}`);
  return Date.now();
}

/**
 * Follows an integration's tokens through one refresh by age: scheduled at `obtained + max age`, not
 * made before, made once however many runners, and the next one scheduled from the new tokens.
 */
async function expectRefreshedByAge(provider: string, id: string): Promise<void> {
  const first = await obtainedAt(id);
  const scheduled = await waitFor(async () => (await integration(id)).nextRefreshAt, 5_000, 'the refresh scheduled');
  expect(Date.parse(scheduled)).toBe(first + MAX_AGE_SECONDS * 1000);

  const refreshedAt = await nthRefresh(provider, 1);
  // Not before its age reached the maximum (a job may run up to its tolerance of a second early).
  expect(refreshedAt).toBeGreaterThanOrEqual(first + (MAX_AGE_SECONDS - 1) * 1000);
  const second = await waitFor(
    async () => {
      const at = await obtainedAt(id);
      return at > first ? at : null;
    },
    5_000,
    'the new tokens stored',
  );
  const next = await waitFor(
    async () => {
      const node = await integration(id);
      return node.nextRefreshAt && Date.parse(node.nextRefreshAt) > first + MAX_AGE_SECONDS * 1000 ? node : null;
    },
    5_000,
    'the next refresh scheduled',
  );
  expect(Date.parse(next.nextRefreshAt)).toBe(second + MAX_AGE_SECONDS * 1000);
  expect(next.status).toBe('ACTIVE');
  // Sweeps and polls of both runners until shortly before the new tokens' age is due: still one call.
  await sleep(Math.max(0, second + (MAX_AGE_SECONDS - 2) * 1000 - Date.now()));
  expect(world.fake.calls(provider, 'token', 'refresh_token')).toBe(1);
  const refreshes = await world.db
    .selectFrom('integration_events')
    .select(['actor_key_id'])
    .where('integration_id', '=', decodeTypedID(id, 'Integration'))
    .where('type', '=', 'integration.tokens_refreshed')
    .execute();
  expect(refreshes).toEqual([{ actor_key_id: SCHEDULER_KEY_ID }]);
}

describe('OAuth2 tokens refreshed by age (TOKEN_REFRESH_MAX_AGE_SECONDS)', () => {
  it('a token issued without expires_in shows no expiry and is refreshed once its maximum age passes, exactly once', async () => {
    world.fake.reset();
    world.fake.knobs('github').omitExpiresIn = true;
    const id = await world.connectOAuth('github');
    expect(await integration(id)).toMatchObject({ status: 'ACTIVE', credentialExpiresAt: null });
    await expectRefreshedByAge('github', id);
    // The refreshed tokens came without expires_in too.
    expect((await integration(id)).credentialExpiresAt).toBeNull();
  });

  it('a token that expires later than its maximum age is refreshed at that age', async () => {
    world.fake.reset();
    const id = await world.connectOAuth('gitlab');
    const node = await integration(id);
    expect(Date.parse(node.credentialExpiresAt) - Date.now()).toBeGreaterThan(3_000_000);
    await expectRefreshedByAge('gitlab', id);
  });
});
