import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { processRegistry } from '../src/http/observability/metrics.js';
import { runDueJobs } from '../src/jobs/engine.js';
import type { EventInput } from '../src/modules/events/event.model.js';
import { appendEvent } from '../src/modules/events/event.repository.js';
import { publishAll } from '../src/modules/events/publication.js';
import { queueStatus } from '../src/jobs/status.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({ HEALTH_CHECK_INTERVAL_SECONDS: '60', WORKER_POLL_INTERVAL_MS: '100' });
  // An engine's embedded database (a folder, its socket) takes a while to start on a busy machine.
}, 180_000);
afterAll(() => world?.close());

const setNextCheck = (id: string, secondsFromNow: number) =>
  world.db
    .updateTable('integrations')
    .set({ next_health_check_at: sql<Date>`now() + make_interval(secs => ${secondsFromNow})` })
    .where('id', '=', decodeTypedID(id, 'Integration'))
    .execute();

async function expiredIdempotencyKey(): Promise<string> {
  const key = randomUUID();
  const apiKey = await world.db
    .selectFrom('api_keys')
    .select('id')
    .where('organization_id', '=', world.org.organization.id)
    .executeTakeFirstOrThrow();
  await world.db
    .insertInto('idempotency_keys')
    .values({
      organization_id: world.org.organization.id,
      key,
      api_key_id: apiKey.id,
      fingerprint: 'f',
      state: 'IN_PROGRESS',
      lease_token: randomUUID(),
      lease_expires_at: sql<Date>`now() - interval '1 minute'`,
      expires_at: sql<Date>`now() - interval '1 minute'`,
    })
    .execute();
  return key;
}

/** A published event of the organization's that occurred `daysAgo` days ago; its id. */
async function publishedEventOf(daysAgo: number): Promise<string> {
  const input: EventInput<'integration.needs_reauth'> = {
    organizationId: world.org.organization.id,
    type: 'integration.needs_reauth',
    subject: { type: 'Integration', id: randomUUID() },
    actor: { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null },
    requestId: null,
    data: { reason: `${daysAgo} days ago` },
    occurredAt: new Date(Date.now() - daysAgo * 86_400_000),
  };
  const event = await appendEvent(world.db, input);
  await publishAll(world.db, []);
  return event.id;
}

const eventExists = async (id: string) =>
  (await world.db.selectFrom('events').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

const idempotencyKeyExists = async (key: string) =>
  (await world.db.selectFrom('idempotency_keys').select('key').where('key', '=', key).executeTakeFirst()) !== undefined;

describe('jobs run-due, the queue status, and retention on the engine', () => {
  it('runs what is due once (probes, the retention purge) and leaves later work queued', async () => {
    const token = world.fake.issueApiToken('github');
    const due = await world.connectToken('github', token);
    const later = await world.connectToken('github', world.fake.issueApiToken('github'));
    await setNextCheck(due, -1);
    await setNextCheck(later, 30);
    world.fake.revokeCredential('github', { token });
    const expired = await expiredIdempotencyKey();
    const pastRetention = await publishedEventOf(31);
    const withinRetention = await publishedEventOf(29);

    const config = world.config({ EVENT_RETENTION_DAYS: '30' });
    const ran = await runDueJobs({ config, db: world.db, services: world.services, logger: world.services.logger });
    // The sweep, the two retention purges (Idempotency-Keys, events), and the one due probe.
    expect(ran).toBe(4);
    expect(await idempotencyKeyExists(expired)).toBe(false);
    expect(await eventExists(pastRetention)).toBe(false);
    expect(await eventExists(withinRetention)).toBe(true);
    expect((await world.row(due)).status).toBe('NEEDS_REAUTH');
    expect((await world.row(later)).status).toBe('ACTIVE');
    const status = await queueStatus(world.db);
    expect(status.find((entry) => entry.task === 'integration.probe')).toEqual({
      task: 'integration.probe',
      due: 0,
      scheduled: 1,
      running: 0,
      failed: 0,
      oldestDueAt: null,
    });
    // A sync the connections scheduled may be queued too, for later: nothing else is due, running or failed.
    for (const entry of status) expect(entry).toMatchObject({ due: 0, running: 0, failed: 0, oldestDueAt: null });
  });

  it('brings an integration backing off after failures back to one interval once it has none', async () => {
    const id = await world.connectToken('github', world.fake.issueApiToken('github'));
    // As a reconnection leaves it: no failure left, the next check still an hour away from the backoff.
    await setNextCheck(id, 3600);
    await runDueJobs({ config: world.config(), db: world.db, services: world.services, logger: world.services.logger });
    const next = (await world.row(id)).next_health_check_at as Date;
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it('running workers purge expired Idempotency-Keys, and count their jobs in the metrics', async () => {
    const expired = await expiredIdempotencyKey();
    await world.startEngine();
    await waitFor(async () => !(await idempotencyKeyExists(expired)), 10_000, 'the purge');
    const metrics = await processRegistry.metrics();
    expect(metrics).toMatch(/gateway_jobs_total\{task="retention\.purge-idempotency-keys",outcome="success"\} [1-9]/);
    expect(metrics).toContain('# TYPE gateway_jobs_due gauge');
    expect(metrics).toContain('# TYPE gateway_health_probe_lag_seconds histogram');
  });
});
