import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventPublisher } from '../src/jobs/event-publisher.js';
import { createLogger } from '../src/logger.js';
import type { EventActor, EventConsumer, EventInput, PublishedEvent } from '../src/modules/events/event.model.js';
import { appendEvent } from '../src/modules/events/event.repository.js';
import { UnsafeEventDataError } from '../src/modules/events/event-data.js';
import { publishAll } from '../src/modules/events/publication.js';
import { databaseSignal, type PublicationSignal } from '../src/modules/events/publication-signal.js';
import { EventFeed } from '../src/modules/events/event-feed.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { waitFor } from './support/engine.js';
import { createWorld, type World } from './support/world.js';

const ACTOR: EventActor = { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null };
const SUBJECT_ID = '11111111-1111-4111-8111-111111111111';

describe('the event outbox', () => {
  let database: TestDatabase;
  let world: World;
  const input = (reason: string): EventInput<'integration.needs_reauth'> => ({
    organizationId: world.acme.organization.id,
    type: 'integration.needs_reauth',
    subject: { type: 'Integration', id: SUBJECT_ID },
    actor: ACTOR,
    requestId: 'req-1',
    data: { reason },
  });
  const published = async () =>
    (
      await database.db.selectFrom('events').select(['position', 'data']).where('position', 'is not', null).orderBy('position').execute()
    ).map((row) => ({ position: Number(row.position), reason: (row.data as { reason: string }).reason }));

  beforeAll(async () => {
    database = await createTestDatabase();
    world = await createWorld(database.db);
    // The world's keys were recorded as created: the suite starts from an empty outbox.
    await database.db.deleteFrom('events').execute();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('keeps an event only when the transaction that wrote it commits', async () => {
    await expect(
      database.db.transaction().execute(async (trx) => {
        await appendEvent(trx, input('rolled back'));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const committed = await database.db.transaction().execute((trx) => appendEvent(trx, input('committed')));
    expect(committed.id).toMatch(/^evt_[0-9a-f]{32}$/);
    const rows = await database.db.selectFrom('events').select(['id', 'data', 'position']).execute();
    expect(rows).toEqual([{ id: committed.id, data: { reason: 'committed' }, position: null }]);
  });

  it('refuses data that holds a secret, naming the member but not the value', async () => {
    const secret = { ...input('x'), data: { reason: 'x', accessToken: 'abc' } } as unknown as EventInput;
    await expect(appendEvent(database.db, secret)).rejects.toThrow(
      new UnsafeEventDataError('Event data.accessToken is named like a secret.'),
    );
    const key = { ...input(`leaked ${world.acme.keys.ADMIN}`) };
    await expect(appendEvent(database.db, key)).rejects.toThrow(UnsafeEventDataError);
  });

  it('publishes in gap-free positions, consumers inside the publication; a failing consumer publishes nothing', async () => {
    const seen: PublishedEvent[] = [];
    let fail = true;
    const consumer: EventConsumer = {
      name: 'test',
      async consume(trx, events) {
        // Inside the publication: the positions are visible to the consumer's own statements.
        const inside = await trx
          .selectFrom('events')
          .select('position')
          .where('id', '=', events[0]?.id ?? '')
          .executeTakeFirst();
        expect(inside?.position).toBe(events[0]?.position);
        if (fail) throw new Error('consumer down');
        seen.push(...events);
      },
    };
    await expect(publishAll(database.db, [consumer])).rejects.toThrow('event consumer test failed');
    expect(await published()).toEqual([]);
    fail = false;
    await appendEvent(database.db, input('second'));
    expect(await publishAll(database.db, [consumer], 1)).toBe(2);
    expect(await published()).toEqual([
      { position: 1, reason: 'committed' },
      { position: 2, reason: 'second' },
    ]);
    expect(seen.map((event) => [event.position, event.data.reason])).toEqual([
      [1, 'committed'],
      [2, 'second'],
    ]);
    expect(await publishAll(database.db, [consumer])).toBeNull();
  });

  it.runIf(testDatabaseKind === 'postgres')('orders positions by commit, not by writing', async () => {
    let releaseFirst!: () => void;
    const held = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let written!: () => void;
    const firstWritten = new Promise<void>((resolve) => {
      written = resolve;
    });
    const first = database.db.transaction().execute(async (trx) => {
      await appendEvent(trx, input('written first, committed last'));
      written();
      await held;
    });
    await firstWritten;
    await appendEvent(database.db, input('written last, committed first'));
    await publishAll(database.db, []);
    releaseFirst();
    await first;
    await publishAll(database.db, []);
    expect((await published()).slice(-2)).toEqual([
      { position: 3, reason: 'written last, committed first' },
      { position: 4, reason: 'written first, committed last' },
    ]);
  });

  it('the publisher is woken by the commit, without waiting for its poll', async () => {
    const seen: string[] = [];
    const consumer: EventConsumer = {
      name: 'collect',
      async consume(_trx, events) {
        seen.push(...events.map((event) => String(event.data.reason)));
      },
    };
    const publisher = await startEventPublisher({
      db: database.db,
      consumers: [consumer],
      notifications: database.notifications,
      signal: databaseSignal(database.notifications),
      pollIntervalMs: 600_000,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const heard: (string | null)[] = [];
      const stop = await databaseSignal(database.notifications).watch((position) => heard.push(String(position)));
      await database.db.transaction().execute((trx) => appendEvent(trx, input('woken')));
      await waitFor(async () => seen.includes('woken'), 5_000, 'the publication');
      const last = (await published()).at(-1)?.position;
      await waitFor(async () => heard.includes(String(last)), 5_000, 'the announcement of the last position');
      await stop();
    } finally {
      await publisher.stop();
    }
  });

  it('a subscription "from now on" starts after the last position published, though the feed has not read it yet', async () => {
    // A signal the test fires itself, and no poll: the feed reads only when told.
    const watchers: ((position: number | null) => void)[] = [];
    const signal: PublicationSignal = {
      announce: () => {},
      watch: async (onPosition) => {
        watchers.push(onPosition);
        return async () => {};
      },
      close: async () => {},
    };
    const feed = new EventFeed({ db: database.db, signal, pollIntervalMs: 3_600_000, logger: createLogger({ level: 'silent' }) });
    const reasonOf = async (stream: AsyncIterator<PublishedEvent>) => String((await stream.next()).value?.data.reason);
    try {
      const organizationId = world.acme.organization.id;
      const first = await feed.subscribe({ organizationId, accepts: () => true, after: null });
      await appendEvent(database.db, input('published before the second subscription'));
      await publishAll(database.db, []);
      // Published and committed, not read by the feed yet (its notification is on its way).
      const second = await feed.subscribe({ organizationId, accepts: () => true, after: null });
      await appendEvent(database.db, input('published after it'));
      await publishAll(database.db, []);
      for (const notify of watchers) notify(null);
      expect([await reasonOf(first), await reasonOf(first)]).toEqual(['published before the second subscription', 'published after it']);
      expect(await reasonOf(second)).toBe('published after it');
    } finally {
      await feed.close();
    }
  });
});
