import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import { toStoredEvent } from '../events/event.repository.js';
import { renderPayload } from './webhook-payload.js';

/** A published event as a message: its id, type, subject, order and body. */
export interface EventMessage {
  id: string;
  type: string;
  subjectId: string;
  integrationId: string | null;
  position: string;
  payload: string;
}

/** A published event of the organization, rendered as its deliveries send it; undefined when there is none. */
export async function findEventForDelivery(
  db: Kysely<Database>,
  organizationId: string,
  eventId: string,
): Promise<EventMessage | undefined> {
  const row = await db
    .selectFrom('events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', eventId)
    .where('position', 'is not', null)
    .executeTakeFirst();
  if (!row) return undefined;
  const event = toStoredEvent(row);
  return {
    id: event.id,
    type: event.type,
    subjectId: event.subjectId,
    integrationId: event.integrationId,
    position: String(event.position),
    payload: renderPayload(event),
  };
}
