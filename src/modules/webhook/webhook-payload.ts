import { encodeGlobalID } from '../../ids.js';

/** What a message says of an event (the fields of a published event that go out). */
export interface PayloadEvent {
  id: string;
  type: string;
  organizationId: string;
  /** The global ID of what the event is about. */
  subjectId: string;
  actor: { kind: string; label: string };
  requestId: string | null;
  data: Record<string, unknown>;
  occurredAt: Date;
}

/**
 * The JSON body of a message, as Standard Webhooks shapes it (`type`, `timestamp`, `data`) with the
 * event's id, organization, subject, actor and request beside them. Rendered once per event: every
 * endpoint and every attempt sends the same bytes.
 */
export function renderPayload(event: PayloadEvent): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    organization: encodeGlobalID('Organization', event.organizationId),
    subject: event.subjectId,
    actor: { kind: event.actor.kind, label: event.actor.label },
    requestId: event.requestId,
    data: event.data,
  });
}
