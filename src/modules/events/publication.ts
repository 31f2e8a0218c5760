import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/database.js';
import { EVENTS_PUBLISHED_CHANNEL, type EventConsumer, type PublishedEvent } from './event.model.js';
import { anyUnpublished, assignPositions, lockPublication } from './event.repository.js';

/** Events published in one transaction at most. */
export const PUBLICATION_BATCH = 500;

/** A consumer failed: the publication it was part of rolled back. */
export class EventConsumerError extends Error {
  override name = 'EventConsumerError';

  constructor(
    readonly consumer: string,
    cause: unknown,
  ) {
    super(`event consumer ${consumer} failed`, { cause });
  }
}

/**
 * Publishes one batch: under the publication lock, gives the oldest visible unpublished events the next
 * positions, hands them to every consumer in the same transaction, and notifies subscribers (at commit)
 * of the last position. Returns the events published, none when there were none.
 */
export async function publishBatch(
  db: Kysely<Database>,
  consumers: readonly EventConsumer[],
  batch = PUBLICATION_BATCH,
): Promise<PublishedEvent[]> {
  return db.transaction().execute(async (trx) => {
    const last = await lockPublication(trx);
    const events = await assignPositions(trx, last, batch);
    if (events.length === 0) return events;
    for (const consumer of consumers) {
      try {
        await consumer.consume(trx, events);
      } catch (error) {
        throw new EventConsumerError(consumer.name, error);
      }
    }
    await sql`select pg_notify(${EVENTS_PUBLISHED_CHANNEL}, ${String(last + events.length)})`.execute(trx);
    return events;
  });
}

/** Publishes batches until none is left; the last position published, or null when there was nothing. */
export async function publishAll(
  db: Kysely<Database>,
  consumers: readonly EventConsumer[],
  batch = PUBLICATION_BATCH,
): Promise<number | null> {
  // Most wakes (polls, another process's turn) find nothing: a look without the lock answers them.
  if (!(await anyUnpublished(db))) return null;
  let last: number | null = null;
  for (;;) {
    const events = await publishBatch(db, consumers, batch);
    const newest = events.at(-1);
    if (newest) last = newest.position;
    if (events.length < batch) return last;
  }
}
