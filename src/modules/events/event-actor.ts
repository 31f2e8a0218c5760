import type { Viewer } from '../api-key/viewer.js';
import type { EventActor } from './event.model.js';

// The actors events name, one constructor each, so that every path spells them alike.

/** A request authenticated by an API key: the key's visible prefix. */
export function apiKeyActor(key: { id: string; prefix: string }): EventActor {
  return { kind: 'API_KEY', label: key.prefix, apiKeyId: key.id, subject: null };
}

/** The background engine's jobs. */
export const SCHEDULER_ACTOR: EventActor = { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null };

/** The command line, run by an operator of the deployment. */
export const OPERATOR_ACTOR: EventActor = { kind: 'OPERATOR', label: 'cli', apiKeyId: null, subject: null };

/** The gateway itself (its first run's demo key, a webhook endpoint it disables). */
export function systemActor(label: string): EventActor {
  return { kind: 'SYSTEM', label, apiKeyId: null, subject: null };
}

/** A provider's redirect to the OAuth2 callback, finishing an authorization that `startedBy` (an API key) began. */
export function oauthCallbackActor(startedBy: string | null, startedBySubject: string | null = null): EventActor {
  return { kind: 'OAUTH_CALLBACK', label: 'oauth-callback', apiKeyId: startedBy, subject: startedBySubject };
}

/** An end user signed in without an API key (OIDC), named by their stable subject. */
export function userActor(subject: string, label: string): EventActor {
  return { kind: 'USER', label, apiKeyId: null, subject };
}

/** A request's caller: its API key, or the user signed in by the organization's identity provider. */
export function viewerActor(viewer: Viewer): EventActor {
  return viewer.apiKey ? apiKeyActor(viewer.apiKey) : userActor(viewer.user.subject, viewer.user.subject);
}

/** An end user connecting through a connect session (the hosted connect page), named by the id the session gave them. */
export function connectSessionActor(endUserId: string, issuedBy: string | null): EventActor {
  return { kind: 'USER', label: `end user ${endUserId}`, apiKeyId: issuedBy, subject: endUserId };
}

/** Who an event names and under which request: what a service needs to append events. */
export interface EventOrigin {
  actor: EventActor;
  requestId: string | null;
}
