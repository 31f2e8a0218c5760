import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULER_KEY_ID } from '../src/jobs/scheduler-actor.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';

const INTEGRATIONS = 200;
const INTERVAL_SECONDS = 6;
const WINDOW_INTERVALS = 3;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld(
    { HEALTH_CHECK_INTERVAL_SECONDS: String(INTERVAL_SECONDS), WORKER_POLL_INTERVAL_MS: '200' },
    { probeTimeoutMs: 10_000 },
  );
});
afterAll(() => world?.close());

describe('scheduled probes at scale', () => {
  it(`${INTEGRATIONS} integrations on two runners are each probed once per interval, never twice at once`, {
    timeout: 120_000,
  }, async () => {
    const ids: string[] = [];
    for (let index = 0; index < INTEGRATIONS; index += 5) {
      const batch = Array.from({ length: 5 }, () => world.connectToken('gitlab', world.fake.issueApiToken('gitlab')));
      ids.push(...(await Promise.all(batch)));
    }
    await world.startEngine();
    await world.startEngine();
    await waitFor(
      async () => {
        const unscheduled = await world.db
          .selectFrom('integrations')
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .where('next_health_check_at', 'is', null)
          .executeTakeFirstOrThrow();
        return Number(unscheduled.count) === 0;
      },
      15_000,
      'every integration scheduled',
    );
    // From one interval on, every integration has had its first check: count whole intervals after that.
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_SECONDS * 1000));
    const from = new Date();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_INTERVALS * INTERVAL_SECONDS * 1000));
    const to = new Date();

    const events = await world.db
      .selectFrom('integration_events')
      .select(['integration_id', 'created_at'])
      .where('type', '=', 'integration.tested')
      .where('actor_key_id', '=', SCHEDULER_KEY_ID)
      .orderBy('created_at')
      .execute();
    const byIntegration = new Map<string, Date[]>();
    for (const event of events)
      byIntegration.set(event.integration_id as string, [...(byIntegration.get(event.integration_id as string) ?? []), event.created_at]);
    expect(byIntegration.size).toBe(INTEGRATIONS);
    for (const times of byIntegration.values()) {
      // ±10% jitter, and a worker's polling, around one probe per interval.
      const inWindow = times.filter((at) => at >= from && at < to).length;
      expect(inWindow).toBeGreaterThanOrEqual(WINDOW_INTERVALS - 1);
      expect(inWindow).toBeLessThanOrEqual(WINDOW_INTERVALS + 1);
      for (let index = 1; index < times.length; index += 1) {
        const gap = (times[index] as Date).getTime() - (times[index - 1] as Date).getTime();
        expect(gap).toBeGreaterThan(INTERVAL_SECONDS * 1000 * 0.85);
      }
    }
  });
});
