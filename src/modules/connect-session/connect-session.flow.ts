import type { Kysely } from 'kysely';
import type { CredentialsInput } from '../integration/integration.input.js';
import type { AuthKind, Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { findKeyById } from '../api-key/api-key.repository.js';
import { type ConnectResult, connectIntegration } from '../integration/connect.service.js';
import type { MutationActor } from '../integration/integration.audit.js';
import { type Integration, toIntegration } from '../integration/integration.model.js';
import { findIntegrationRow } from '../integration/integration.repository.js';
import {
  CONNECT_PATH,
  type ConnectSession,
  hashSessionToken,
  isSessionToken,
  MAX_SESSION_ATTEMPTS,
  toConnectSession,
} from './connect-session.model.js';
import { countAttempt, findSessionByTokenHash } from './connect-session.repository.js';
import { sessionOffers } from './connect-session.service.js';

// What the hosted connect page does with a session: the token is its only credential, and everything it
// may do stays within the limits the session was issued with.

/** The session a token opens, whatever its state; null for a token that is not one (or not this gateway's). */
export async function findSessionByToken(db: Kysely<Database>, token: string | null | undefined): Promise<ConnectSession | null> {
  if (!isSessionToken(token)) return null;
  const row = await findSessionByTokenHash(db, hashSessionToken(token));
  return row ? toConnectSession(row) : null;
}

/** Where a session's OAuth2 authorization returns, and where its pages end. */
export function sessionDonePath(session: Pick<ConnectSession, 'id'>): string {
  return `${CONNECT_PATH}/${session.id}/done`;
}

/**
 * The actor a session's connections run as: the end user, through the session, on behalf of the key
 * that issued it (which must still stand when the connection commits).
 */
async function sessionActor(db: Kysely<Database>, session: ConnectSession, requestId: string): Promise<MutationActor> {
  const found = await findKeyById(db, session.createdByKeyId);
  if (!found || found.key.revokedAt !== null) {
    throw new ServiceError('FORBIDDEN', 'This connect link was withdrawn.', []);
  }
  return {
    viewer: { organization: found.organization, apiKey: found.key, user: null, role: 'EDITOR' },
    requestId,
    resume: null,
    startedAt: new Date(),
    connectSession: { id: session.id, endUser: session.endUser },
  };
}

/** What the connect page's form sends. */
export interface SessionConnectForm {
  provider: string;
  authKind: AuthKind;
  displayName?: string | null;
  config: Record<string, string>;
  credentials?: CredentialsInput | null;
}

/** The integration a session reconnects, or the one an earlier attempt of it created, while it can still be connected. */
export async function sessionIntegration(db: Kysely<Database>, session: ConnectSession): Promise<Integration | null> {
  if (!session.integrationId) return null;
  const row = await findIntegrationRow(db, session.organizationId, session.integrationId);
  return row ? toIntegration(row) : null;
}

/**
 * Connects through a live session, exactly as connectIntegration does (the same probe before anything is
 * stored, the same OAuth2 start), for the session's end user and within its limits: an allowed provider
 * and auth kind, its environment, its integration when it reconnects one. A token or basic connection
 * that succeeds spends the session in the same transaction; OAuth2 spends it at the callback.
 */
export async function connectThroughSession(
  services: GatewayServices,
  db: Kysely<Database>,
  session: ConnectSession,
  form: SessionConnectForm,
  requestId: string,
): Promise<ConnectResult> {
  const offer = sessionOffers(services, session).find((candidate) => candidate.definition.key === form.provider);
  if (!offer) throw new ServiceError('FORBIDDEN', 'This connect link does not allow this provider.', ['provider']);
  if (!offer.authKinds.includes(form.authKind))
    throw new ServiceError('FORBIDDEN', `This connect link does not allow connecting ${offer.definition.name} this way.`, ['authKind']);
  if (!(await countAttempt(db, session.id, MAX_SESSION_ATTEMPTS)))
    throw new ServiceError('FORBIDDEN', 'This connect link has made too many attempts. Ask the app for a new link.', []);
  const actor = await sessionActor(db, session, requestId);
  // Reused when it is of this provider: the integration reconnected, or the pending one an abandoned OAuth2 attempt left.
  const earlier = await sessionIntegration(db, session);
  const existing = earlier && earlier.provider === form.provider && earlier.status !== 'REVOKED' ? earlier : null;
  if (session.reconnect && !existing) throw new ServiceError('ALREADY_REVOKED', 'The integration to reconnect was revoked.', []);
  const name = `${offer.definition.name} (${session.endUser.displayName ?? session.endUser.id})`.slice(0, 200);
  return connectIntegration(services, db, actor, {
    provider: form.provider,
    authKind: form.authKind,
    displayName: form.displayName?.trim() || existing?.displayName || name,
    environment: session.environment ?? existing?.environment ?? null,
    config: form.config,
    credentials: form.credentials ?? null,
    returnUrl: `${services.publicUrl.replace(/\/+$/, '')}${sessionDonePath(session)}`,
    integrationId: existing?.id ?? null,
    endUser: session.endUser,
  });
}
