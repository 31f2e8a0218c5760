import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDeliveries, insertDeliveries } from '../src/modules/webhook/webhook-delivery.repository.js';
import { testDatabaseKind } from './support/database.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

// Two delivery jobs of one endpoint may run at once (a job queued while another runs starts beside it):
// their claims must never split a subject's run, or its messages go out of order.
let gateway: TestGateway;
let organizationId: string;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  organizationId = gateway.world.acme.organization.id;
});
afterAll(() => gateway?.close());

async function endpointWithMessages(subjects: string[], perSubject: number): Promise<string> {
  const { id } = await gateway.db
    .insertInto('webhook_endpoints')
    .values({ organization_id: organizationId, url: 'https://receiver.example/hook' })
    .returning('id')
    .executeTakeFirstOrThrow();
  let position = 0;
  const deliveries = [];
  for (let n = 0; n < perSubject; n += 1) {
    for (const subject of subjects) {
      position += 1;
      deliveries.push({
        organizationId,
        endpointId: id,
        messageId: `msg_${randomUUID()}`,
        eventId: `evt_${randomUUID()}`,
        eventType: 'integration.needs_reauth',
        kind: 'EVENT' as const,
        subjectKey: subject,
        position: String(position),
        payload: '{}',
      });
    }
  }
  await insertDeliveries(gateway.db, deliveries);
  return id;
}

const LEASE_MS = 60_000;

describe('claims of an endpoint’s messages', () => {
  it('claims each subject’s run from its first message, in order, at most 20 a subject', async () => {
    const endpoint = await endpointWithMessages(['a', 'b'], 25);
    const claimed = await claimDeliveries(gateway.db, endpoint, 'one', 200, LEASE_MS);
    const positions = (subject: string) => claimed.filter((row) => row.subject_key === subject).map((row) => Number(row.position));
    expect(positions('a')).toEqual(Array.from({ length: 20 }, (_, n) => 2 * n + 1));
    expect(positions('b')).toEqual(Array.from({ length: 20 }, (_, n) => 2 * n + 2));
    // Nothing more while those are leased: what follows waits for them.
    expect(await claimDeliveries(gateway.db, endpoint, 'two', 200, LEASE_MS)).toEqual([]);
  });

  it.skipIf(testDatabaseKind !== 'postgres')(
    'gives a claim that started during another one nothing behind the messages that one took (postgres only: PGlite has one connection)',
    async () => {
      const endpoint = await endpointWithMessages(['a'], 6);
      let second: Promise<Awaited<ReturnType<typeof claimDeliveries>>> | undefined;
      const first = await gateway.db.transaction().execute(async (trx) => {
        const rows = await claimDeliveries(trx, endpoint, 'first', 2, LEASE_MS);
        // The second claim starts while the first is not committed, and waits for it.
        second = claimDeliveries(gateway.db, endpoint, 'second', 200, LEASE_MS);
        const deadline = Date.now() + 10_000;
        for (;;) {
          const { rows: waiting } = await sql<{ count: number }>`
            select count(*)::int as count from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and query like '%webhook%'`.execute(gateway.db);
          if ((waiting[0]?.count ?? 0) > 0) break;
          if (Date.now() > deadline) throw new Error('the second claim never waited for the first');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return rows;
      });
      expect(first.map((row) => Number(row.position))).toEqual([1, 2]);
      // Messages 3 to 6 wait behind 1 and 2, which the first claim holds.
      expect(await second).toEqual([]);
      const leased = await gateway.db
        .selectFrom('webhook_deliveries')
        .select(['position', 'lease_owner'])
        .where('endpoint_id', '=', endpoint)
        .orderBy('position')
        .execute();
      expect(leased.map((row) => row.lease_owner)).toEqual(['first', 'first', null, null, null, null]);
    },
  );
});
