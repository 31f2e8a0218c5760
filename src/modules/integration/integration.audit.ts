import type { Viewer } from '../api-key/viewer.js';
import { connectSessionActor, type EventOrigin, viewerActor } from '../events/event-actor.js';
import type { EventActor } from '../events/event.model.js';
import type { EndUser } from './integration.model.js';
import { insertEventRow, type ResumeScope } from './integration-event.repository.js';

/** An end user acting through a connect session (the hosted connect page), on behalf of the key that issued it. */
export interface ConnectSessionActor {
  id: string;
  endUser: EndUser;
}

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
  /**
   * Set when an end user acts through a connect session: its events name the session and the end user
   * (the key is the one that issued the session), and a connection that succeeds spends it.
   */
  connectSession?: ConnectSessionActor | null;
  /** Who the events name as the actor (the scheduler); the viewer (API key or user) when absent. */
  as?: EventActor;
}

/** The audit detail naming a connect session and its end user, when one acted. */
export function connectSessionDetail(session: { id: string; endUserId: string } | null | undefined): Record<string, unknown> {
  return session ? { connectSessionId: session.id, endUserId: session.endUserId } : {};
}

/** The actor and request an actor's events name. */
export function originOf(actor: MutationActor): EventOrigin {
  const session = actor.connectSession;
  const named = session ? connectSessionActor(session.endUser.id, actor.viewer.apiKey?.id ?? null) : viewerActor(actor.viewer);
  return { actor: actor.as ?? named, requestId: actor.requestId };
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
    actor_key_id: actor.viewer.apiKey?.id ?? null,
    actor_subject: actor.viewer.user?.subject ?? null,
    type,
    outcome,
    request_id: actor.requestId,
    detail: {
      ...detail,
      ...connectSessionDetail(actor.connectSession && { id: actor.connectSession.id, endUserId: actor.connectSession.endUser.id }),
      ...(actor.resume ? { idempotencyKey: actor.resume.key, idempotencyField: actor.resume.field } : {}),
    },
  });
}
