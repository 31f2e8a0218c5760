import { randomBytes } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, EventRow } from '../../db/database.js';
import { type CursorPosition, cursorKeyShapes, type PageRequest, withCursorCheck } from '../../graphql/pagination.js';
import { encodeGlobalID } from '../../ids.js';
import { assertSafeEventData } from './event-data.js';
import type { ActorKind, EventInput, EventType, PublishedEvent, StoredEvent } from './event.model.js';

type Db = Kysely<Database> | Transaction<Database>;

export function newEventId(): string {
  return `evt_${randomBytes(16).toString('hex')}`;
}

/** The one mapping from a row to an event. */
export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    organizationId: row.organization_id,
    type: row.type as EventType,
    subjectId: row.subject_id,
    integrationId: row.integration_id,
    apiKeyId: row.api_key_id,
    actor: {
      kind: row.actor_kind as ActorKind,
      label: row.actor_label,
      apiKeyId: row.actor_api_key_id,
      subject: row.actor_subject,
    },
    requestId: row.request_id,
    data: row.data,
    occurredAt: row.occurred_at,
    seq: Number(row.seq),
    position: row.position === null ? null : Number(row.position),
    publishedAt: row.published_at,
  };
}

/**
 * Appends an event in the caller's transaction (or as a statement of its own when given the database):
 * it commits with the change it describes, or not at all. Refuses data that looks like a secret.
 */
export async function appendEvent<T extends EventType>(trx: Db, input: EventInput<T>): Promise<StoredEvent> {
  assertSafeEventData(input.data);
  const { subject } = input;
  const row = await trx
    .insertInto('events')
    .values({
      id: newEventId(),
      organization_id: input.organizationId,
      type: input.type,
      subject_id: encodeGlobalID(subject.type, subject.id),
      integration_id: input.integrationId ?? (subject.type === 'Integration' ? subject.id : null),
      api_key_id: input.apiKeyId ?? (subject.type === 'ApiKey' ? subject.id : null),
      actor_kind: input.actor.kind,
      actor_label: input.actor.label,
      actor_api_key_id: input.actor.apiKeyId,
      actor_subject: input.actor.subject,
      request_id: input.requestId,
      data: JSON.stringify(input.data),
      ...(input.occurredAt ? { occurred_at: input.occurredAt } : {}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toStoredEvent(row);
}

/**
 * Takes the publication lock (the `event_publication` row, until the transaction ends) and returns the
 * last position given: whoever holds it is the only publisher, and sees every event committed before.
 */
export async function lockPublication(trx: Transaction<Database>): Promise<number> {
  const row = await trx.selectFrom('event_publication').select('last_position').forUpdate().executeTakeFirstOrThrow();
  return Number(row.last_position);
}

/**
 * Gives the oldest unpublished events (by order of writing, among those visible now) the positions after
 * `last`, and returns them in position order.
 */
export async function assignPositions(trx: Transaction<Database>, last: number, limit: number): Promise<PublishedEvent[]> {
  const result = await sql<EventRow>`
    with pending as (
      select id, row_number() over (order by seq) as n
      from (select id, seq from events where position is null order by seq limit ${limit}) as oldest
    )
    update events set position = ${last} + pending.n, published_at = now()
    from pending where events.id = pending.id
    returning events.*`.execute(trx);
  if (result.rows.length > 0) {
    await trx
      .updateTable('event_publication')
      .set({ last_position: last + result.rows.length })
      .execute();
  }
  return result.rows.map((row) => toStoredEvent(row) as PublishedEvent).sort((a, b) => a.position - b.position);
}

/** Whether any event waits for publication. */
export async function anyUnpublished(db: Db): Promise<boolean> {
  const row = await db.selectFrom('events').select('id').where('position', 'is', null).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** Published events after `position`, in position order, of every organization (one read per process for all its subscribers). */
export async function publishedAfter(db: Db, position: number, limit: number): Promise<PublishedEvent[]> {
  const rows = await db.selectFrom('events').selectAll().where('position', '>', position).orderBy('position').limit(limit).execute();
  return rows.map((row) => toStoredEvent(row) as PublishedEvent);
}

/** The last position given, or 0 before the first publication. */
export async function lastPublishedPosition(db: Db): Promise<number> {
  const row = await db.selectFrom('event_publication').select('last_position').executeTakeFirst();
  return Number(row?.last_position ?? 0);
}

/**
 * Deletes published events that occurred before `before`, a batch at a time; how many. Each batch
 * raises the purge mark (`purgedThroughPosition`) to the highest position it deleted, in the same
 * statement, so that no reader sees the events gone without the mark. Nothing references an event by
 * key: webhook deliveries keep their own copy of its body (and its id as text).
 */
export async function purgeEventsBefore(db: Db, before: Date, batch = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql<{ count: number }>`
      with deleted as (
        delete from events where id in (
          select id from events where occurred_at < ${before} and position is not null limit ${batch}
        ) returning position
      ), marked as (
        update event_publication set purged_through_position = greatest(purged_through_position, (select max(position) from deleted))
        where exists (select 1 from deleted)
      )
      select count(*)::int as count from deleted`.execute(db);
    const count = Number(result.rows[0]?.count ?? 0);
    total += count;
    if (count < batch) return total;
  }
}

/** The highest position the retention purge has deleted; 0 when it has deleted none. */
export async function purgedThroughPosition(db: Db): Promise<number> {
  const row = await db.selectFrom('event_publication').select('purged_through_position').executeTakeFirst();
  return Number(row?.purged_through_position ?? 0);
}

/** Which events a page of the audit log lists; every member narrows it. */
export interface EventFilter {
  types?: readonly EventType[] | undefined;
  /** Global IDs of subjects. */
  subjectIds?: readonly string[] | undefined;
  integrationId?: string | undefined;
  actor?: { kinds?: readonly ActorKind[] | undefined; apiKeyId?: string | undefined; label?: string | undefined } | undefined;
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
  /** Types the reader may not see (by role). */
  hiddenTypes?: readonly EventType[] | undefined;
}

/**
 * A page of an organization's events, newest first (by time, then by order of writing), keyset by
 * `(occurred_at, seq)`: a cursor's key is the time as PostgreSQL prints it, its id the `seq`.
 */
export async function listEvents(
  db: Db,
  organizationId: string,
  filter: EventFilter,
  page: PageRequest,
): Promise<{ item: StoredEvent; position: CursorPosition }[]> {
  const newestFirst = page.direction === 'forward';
  const dir = newestFirst ? 'desc' : 'asc';
  let query = db
    .selectFrom('events')
    .selectAll()
    .select(sql<string>`occurred_at::text`.as('sort_key'))
    .where('organization_id', '=', organizationId);
  if (filter.types) query = query.where('type', 'in', filter.types.length > 0 ? [...filter.types] : ['']);
  if (filter.hiddenTypes && filter.hiddenTypes.length > 0) query = query.where('type', 'not in', [...filter.hiddenTypes]);
  if (filter.subjectIds) query = query.where('subject_id', 'in', filter.subjectIds.length > 0 ? [...filter.subjectIds] : ['']);
  if (filter.integrationId) query = query.where('integration_id', '=', filter.integrationId);
  const actor = filter.actor;
  if (actor?.kinds) query = query.where('actor_kind', 'in', actor.kinds.length > 0 ? [...actor.kinds] : ['']);
  if (actor?.apiKeyId) query = query.where('actor_api_key_id', '=', actor.apiKeyId);
  if (actor?.label) query = query.where('actor_label', '=', actor.label);
  if (filter.since) query = query.where('occurred_at', '>=', filter.since);
  if (filter.until) query = query.where('occurred_at', '<', filter.until);
  const cursor = page.cursor;
  if (cursor) {
    const beyond = sql.raw(newestFirst ? '<' : '>');
    query = query.where(sql<boolean>`(occurred_at, seq) ${beyond} (cast(${cursor.key} as timestamptz), cast(${cursor.id} as bigint))`);
  }
  const rows = await withCursorCheck(
    page,
    () =>
      query
        .orderBy('occurred_at', dir)
        .orderBy('seq', dir)
        .limit(page.limit + 1)
        .execute(),
    cursorKeyShapes.timestamp,
  );
  // toStoredEvent reads the columns by name: the row is not copied to leave sort_key out.
  return rows.map((row) => ({ item: toStoredEvent(row), position: { key: row.sort_key, id: String(row.seq) } }));
}

/** An organization's published events after `position`, in position order: a subscriber catching up. */
export async function organizationEventsAfter(db: Db, organizationId: string, position: number, limit: number): Promise<PublishedEvent[]> {
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('position', '>', position)
    .orderBy('position')
    .limit(limit)
    .execute();
  return rows.map((row) => toStoredEvent(row) as PublishedEvent);
}
