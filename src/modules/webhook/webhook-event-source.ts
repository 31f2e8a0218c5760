import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/database.js';
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
  const result = await sql<{
    id: string;
    organization_id: string;
    type: string;
    subject_id: string;
    integration_id: string | null;
    actor_kind: string;
    actor_label: string;
    request_id: string | null;
    data: Record<string, unknown>;
    occurred_at: Date;
    position: string | null;
  }>`select id, organization_id, type, subject_id, integration_id, actor_kind, actor_label, request_id, data, occurred_at, position
    from events where organization_id = ${organizationId} and id = ${eventId} and position is not null`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    type: row.type,
    subjectId: row.subject_id,
    integrationId: row.integration_id,
    position: String(row.position),
    payload: renderPayload({
      id: row.id,
      type: row.type,
      organizationId: row.organization_id,
      subjectId: row.subject_id,
      actor: { kind: row.actor_kind, label: row.actor_label },
      requestId: row.request_id,
      data: row.data,
      occurredAt: new Date(row.occurred_at),
    }),
  };
}
