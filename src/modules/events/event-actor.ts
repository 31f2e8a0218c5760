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
export function oauthCallbackActor(startedBy: string | null): EventActor {
  return { kind: 'OAUTH_CALLBACK', label: 'oauth-callback', apiKeyId: startedBy, subject: null };
}

/** An end user signed in without an API key (OIDC), named by their stable subject. */
export function userActor(subject: string, label: string): EventActor {
  return { kind: 'USER', label, apiKeyId: null, subject };
}

/** Who an event names and under which request: what a service needs to append events. */
export interface EventOrigin {
  actor: EventActor;
  requestId: string | null;
}
