import type { Viewer } from '../api-key/viewer.js';
import { apiKeyActor, type EventOrigin } from '../events/event-actor.js';
import type { EventActor } from '../events/event.model.js';
import { insertEventRow, type ResumeScope } from './integration-event.repository.js';

/** Who is changing an integration, and under which request, for the audit trail. */
export interface MutationActor {
  viewer: Viewer;
  requestId: string;
  /** Set when the request has an Idempotency-Key: a re-run after a lease takeover resumes by it. */
  resume: ResumeScope | null;
  /**
   * When the request arrived (request-clock.ts), before it waited for anything: a token refresh recorded
   * since then ran concurrently with this request, and a forced refresh shares its result.
   */
  startedAt: Date;
  /** Who the events name as the actor (the scheduler); the viewer's API key when absent. */
  as?: EventActor;
}

/** The actor and request an actor's events name. */
export function originOf(actor: MutationActor): EventOrigin {
  return { actor: actor.as ?? apiKeyActor(actor.viewer.apiKey), requestId: actor.requestId };
}

export type EventOutcome = 'SUCCEEDED' | 'FAILED';

/** Appends an audit event. Details carry codes and names only, never a credential. */
export function recordEvent(
  trx: Parameters<typeof insertEventRow>[0],
  actor: MutationActor,
  integrationId: string | null,
  type: string,
  outcome: EventOutcome,
  detail: Record<string, unknown> = {},
  /** The event's time; the transaction's start when absent. */
  at?: Date,
): Promise<void> {
  return insertEventRow(trx, {
    ...(at ? { created_at: at } : {}),
    organization_id: actor.viewer.organization.id,
    integration_id: integrationId,
    actor_key_id: actor.viewer.apiKey.id,
    type,
    outcome,
    request_id: actor.requestId,
    detail: actor.resume ? { ...detail, idempotencyKey: actor.resume.key, idempotencyField: actor.resume.field } : detail,
  });
}
