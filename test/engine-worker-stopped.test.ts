import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { SCHEDULER_KEY_ID } from '../src/jobs/scheduler-actor.js';
import { KeyRing, SecretVault } from '../src/secrets/index.js';
import { createEngineWorld, type EngineWorld, startWorkerProcess, waitFor } from './support/engine.js';

const ENCRYPTION_KEY = randomBytes(32);
/** The deadline of a provider call in this file: a killed worker's job is taken for dead after 3 of them and 10 s. */
const PROBE_TIMEOUT_MS = 3_000;
const ENGINE_ENV = { HEALTH_CHECK_INTERVAL_SECONDS: '2', WORKER_POLL_INTERVAL_MS: '100' };

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld(ENGINE_ENV, { vault: new SecretVault(new KeyRing(ENCRYPTION_KEY)), probeTimeoutMs: PROBE_TIMEOUT_MS });
});
afterAll(() => world?.close());

/** A worker process sharing the world's database and encryption key; the generic http connector needs no connector settings. */
const workerEnv = (extra: Record<string, string>) => ({
  ...world.env,
  ...ENGINE_ENV,
  ENCRYPTION_KEY: ENCRYPTION_KEY.toString('base64'),
  // Every process has the same deadline, from which it derives how long a claimed check may take.
  PROVIDER_TIMEOUT_MS: String(PROBE_TIMEOUT_MS),
  ...extra,
});

/** An integration whose next scheduled probe the fake holds until `release` is called. */
async function integrationWithHeldProbe() {
  // The only integration: the fake's call count is then its probes'.
  await world.db.deleteFrom('integrations').execute();
  const id = await world.connectToken('http', world.fake.issueApiToken('http'));
  world.fake.reset();
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  world.fake.fault('http', 'api', { until: held }, 1);
  return { id, release };
}

const scheduledChecks = async (id: string) =>
  world.db
    .selectFrom('integration_events')
    .select('detail')
    .where('integration_id', '=', decodeTypedID(id, 'Integration'))
    .where('type', '=', 'integration.tested')
    .where('actor_key_id', '=', SCHEDULER_KEY_ID)
    .execute();

describe('a worker process that stops in the middle of a job', () => {
  it('SIGTERM: the job still running after SHUTDOWN_TIMEOUT_MS is handed back, and another process runs it', {
    timeout: 90_000,
  }, async () => {
    const { id, release } = await integrationWithHeldProbe();
    const worker = await startWorkerProcess(workerEnv({ SHUTDOWN_TIMEOUT_MS: '500' }));
    await waitFor(async () => world.fake.calls('http', 'api') === 1, 20_000, "the worker's probe at the provider");
    const stoppedAt = Date.now();
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(worker.output()).toContain('handing running jobs back to the queue');
    expect(await scheduledChecks(id)).toHaveLength(0);

    await world.startEngine();
    // Handed back unlocked and due: the other process takes it at its next poll.
    await waitFor(async () => (await scheduledChecks(id)).length === 1, 5_000, 'the job retried');
    // The held call is answered now: the stopped worker is gone and records nothing.
    release();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(world.fake.calls('http', 'api')).toBeGreaterThanOrEqual(2);
    const checks = await scheduledChecks(id);
    expect(checks[0]?.detail).toMatchObject({ scheduled: true, httpStatus: 200 });
    await world.stopEngines();
  });

  it('SIGKILL: the job a dead process held is queued again once its lock is older than the job could last', {
    timeout: 90_000,
  }, async () => {
    const { id, release } = await integrationWithHeldProbe();
    const worker = await startWorkerProcess(workerEnv({}));
    await waitFor(async () => world.fake.calls('http', 'api') === 1, 20_000, "the worker's probe at the provider");
    expect(await worker.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now();
    const before = (await scheduledChecks(id)).length;
    await world.startEngine();
    await waitFor(async () => (await scheduledChecks(id)).length > before, 45_000, 'the dead worker’s job run again');
    // Three provider deadlines and ten seconds after the lock was taken, and at most one sweep later.
    expect(Date.now() - killedAt).toBeGreaterThan(3 * PROBE_TIMEOUT_MS);
    release();
  });
});
