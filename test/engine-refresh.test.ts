import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { SCHEDULER_KEY_ID } from '../src/jobs/scheduler-actor.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';
import { REFRESH, REVOKE } from './support/integration-flows.js';

const AHEAD_SECONDS = 118;
/**
 * Tokens the fake issues at connection expire in this long: due for refresh two seconds later, and long
 * before a probe would take them for expired (within a minute of expiry) and refresh them itself.
 */
const SHORT_LIFETIME_SECONDS = 120;
const SCHEDULE = `query($id: ID!) { node(id: $id) { ... on Integration { status health credentialExpiresAt nextRefreshAt } } }`;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({
    TOKEN_REFRESH_AHEAD_SECONDS: String(AHEAD_SECONDS),
    HEALTH_CHECK_INTERVAL_SECONDS: '2',
    WORKER_POLL_INTERVAL_MS: '100',
  });
  // Two runners, as two gateway processes run them.
  await world.startEngine();
  await world.startEngine();
});
afterAll(() => world?.close());

const integration = async (id: string) => (await world.graphql(world.org.keys.VIEWER, SCHEDULE, { id })).data.node;
const refreshCalls = () => world.fake.calls('gitlab', 'token', 'refresh_token');

/** Connects GitLab with a token that expires soon; later tokens (the refresh's) live an hour. */
async function connectExpiringSoon(): Promise<string> {
  world.fake.knobs('gitlab').expiresInSeconds = SHORT_LIFETIME_SECONDS;
  const id = await world.connectOAuth('gitlab');
  world.fake.reset();
  return id;
}

describe('OAuth2 tokens refreshed ahead of expiry', () => {
  it('refreshes a token TOKEN_REFRESH_AHEAD_SECONDS before it expires, exactly once across two runners', async () => {
    const id = await connectExpiringSoon();
    const before = await integration(id);
    const expiresAt = new Date(before.credentialExpiresAt).getTime();
    const dueAt = expiresAt - AHEAD_SECONDS * 1000;
    // The schedule and the expiry read together: the refresh may already have run on a busy machine, and
    // then the schedule is the new token's, which must hold the same rule.
    const snapshot = await waitFor(
      async () => {
        const node = await integration(id);
        return node.nextRefreshAt ? node : null;
      },
      5_000,
      'the refresh scheduled',
    );
    const readAt = Date.now();
    const snapshotDue = new Date(snapshot.credentialExpiresAt).getTime() - AHEAD_SECONDS * 1000;
    const scheduledAt = new Date(snapshot.nextRefreshAt).getTime();
    // The refresh commits the new expiry before it schedules the next refresh: a schedule before the first
    // token's expiry is that token's, whatever expiry was read beside it.
    const due = scheduledAt < expiresAt ? dueAt : snapshotDue;
    // At the due time, or at once when the sweep that scheduled it ran after that.
    expect(scheduledAt).toBeGreaterThanOrEqual(due - 1_000);
    expect(scheduledAt).toBeLessThanOrEqual(Math.max(due, readAt) + 1_000);

    await waitFor(async () => refreshCalls() > 0, 10_000, 'the refresh');
    const refreshedAt = Date.now();
    expect(refreshedAt).toBeGreaterThanOrEqual(dueAt - 1_000);
    expect(refreshedAt).toBeLessThan(expiresAt);
    // Two more sweeps and polls of both runners: still the one provider call.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(refreshCalls()).toBe(1);

    const after = await integration(id);
    expect(after.status).toBe('ACTIVE');
    const newExpiry = new Date(after.credentialExpiresAt).getTime();
    expect(newExpiry).toBeGreaterThan(Date.now() + 3_000_000);
    expect(new Date(after.nextRefreshAt).getTime()).toBe(newExpiry - AHEAD_SECONDS * 1000);
    const refreshes = await world.db
      .selectFrom('integration_events')
      .select(['actor_key_id', 'request_id'])
      .where('integration_id', '=', decodeTypedID(id, 'Integration'))
      .where('type', '=', 'integration.tokens_refreshed')
      .execute();
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.actor_key_id).toBe(SCHEDULER_KEY_ID);
    expect(refreshes[0]?.request_id).toMatch(/^scheduler:integration\.refresh-tokens:/);
  });

  it('a refresh the provider refuses makes the integration NEEDS_REAUTH at once, and schedules no more', async () => {
    const id = await connectExpiringSoon();
    world.fake.fault('gitlab', 'token', { status: 400, body: { error: 'invalid_grant', error_description: 'Token revoked' } }, Infinity);
    const refused = await waitFor(
      async () => {
        const node = await integration(id);
        return node.status === 'NEEDS_REAUTH' && node.nextRefreshAt === null ? node : null;
      },
      10_000,
      'the refusal recorded',
    );
    expect(refused.status).toBe('NEEDS_REAUTH');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(refreshCalls()).toBe(1);
  });

  it('a refresh failing ahead of expiry is retried with backoff and counts against health only once the token has expired', async () => {
    world.fake.reset();
    const id = await connectExpiringSoon();
    world.fake.fault('gitlab', 'token', { status: 503 }, Infinity);
    await waitFor(async () => refreshCalls() > 0, 10_000, 'the first refresh');
    // The token still works for two minutes: the probes every two seconds keep it HEALTHY.
    const first = await waitFor(
      async () => {
        const row = await world.row(id);
        return row.next_refresh_at && row.next_refresh_at.getTime() > Date.now() + 10_000 ? row : null;
      },
      10_000,
      'the retry scheduled',
    );
    expect(first).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY', consecutive_failures: 0 });
    // 30 s after the first failure, ±10%.
    const firstWait = (first.next_refresh_at as Date).getTime() - Date.now();
    expect(firstWait).toBeGreaterThan(20_000);
    expect(firstWait).toBeLessThanOrEqual(33_000);
    const failedEvents = () =>
      world.db
        .selectFrom('integration_events')
        .select('id')
        .where('integration_id', '=', decodeTypedID(id, 'Integration'))
        .where('type', '=', 'integration.refresh_failed')
        .execute();
    expect(await failedEvents()).toHaveLength(1);

    // The retry made now: still ahead of expiry, so still HEALTHY, and the wait doubles.
    await world.db.updateTable('integrations').set({ next_refresh_at: new Date() }).where('id', '=', first.id).execute();
    await waitFor(async () => refreshCalls() > 1, 10_000, 'the second refresh');
    const second = await waitFor(
      async () => {
        const row = await world.row(id);
        return row.next_refresh_at && row.next_refresh_at.getTime() > Date.now() + 40_000 ? row : null;
      },
      10_000,
      'the second retry scheduled',
    );
    expect(second).toMatchObject({ health: 'HEALTHY', consecutive_failures: 0 });
    expect((second.next_refresh_at as Date).getTime() - Date.now()).toBeLessThanOrEqual(66_000);

    // Expired: the next failure counts.
    await world.db
      .updateTable('integrations')
      .set({ credential_expires_at: new Date(Date.now() - 1_000), next_refresh_at: new Date() })
      .where('id', '=', first.id)
      .execute();
    const counted = await waitFor(
      async () => {
        const row = await world.row(id);
        return row.consecutive_failures > 0 ? row : null;
      },
      10_000,
      'the failure counted',
    );
    expect(counted.health).not.toBe('HEALTHY');
    expect(counted.status).toBe('ACTIVE');
    // Revoked, so that no later refresh of it counts in the next test.
    const revoked = await world.graphql(world.org.keys.EDITOR, REVOKE, { input: { id } });
    expect(revoked.data.revokeIntegration.userErrors).toEqual([]);
  });

  it('a refresh commits its new expiry and clears the schedule in one statement: no schedule of the old expiry outlives it', async () => {
    // Due in about eight minutes: long after this test, so that only the commit can have moved it.
    world.fake.reset();
    world.fake.knobs('gitlab').expiresInSeconds = 600;
    const id = await world.connectOAuth('gitlab');
    world.fake.reset();
    const old = await waitFor(
      async () => {
        const row = await world.row(id);
        return row.next_refresh_at ? row : null;
      },
      5_000,
      'the first schedule',
    );
    expect((old.next_refresh_at as Date).getTime()).toBe((old.credential_expires_at as Date).getTime() - AHEAD_SECONDS * 1000);
    // A refresh whose process does nothing after its commit: the mutation's, which schedules nothing itself.
    const answer = await world.graphql(world.org.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } });
    expect(answer.data.refreshIntegration.userErrors).toEqual([]);
    const committed = await world.row(id);
    expect((committed.credential_expires_at as Date).getTime()).toBeGreaterThan((old.credential_expires_at as Date).getTime());
    // Cleared with the commit, or already scheduled anew by a sweep: never the old expiry's.
    const expected = (committed.credential_expires_at as Date).getTime() - AHEAD_SECONDS * 1000;
    expect([null, expected]).toContain(committed.next_refresh_at?.getTime() ?? null);
    const rescheduled = await waitFor(
      async () => {
        const row = await world.row(id);
        return row.next_refresh_at ? row : null;
      },
      10_000,
      'the schedule of the new expiry',
    );
    expect((rescheduled.next_refresh_at as Date).getTime()).toBe(expected);
    expect(refreshCalls()).toBe(1);
  });
});
