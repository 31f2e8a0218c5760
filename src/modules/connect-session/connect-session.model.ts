import { createHash, randomBytes } from 'node:crypto';
import type { AuthKind } from '../../db/database.js';
import type { EndUser } from '../integration/integration.model.js';
import type { SessionWithKey } from './connect-session.repository.js';

/** Where a connect session's link opens (`?token=`), and below which its token-free pages live (`/connect/<id>`). */
export const CONNECT_PATH = '/connect';

/** How many connections a session may attempt through the hosted page before it refuses more. */
export const MAX_SESSION_ATTEMPTS = 20;

// igcs_<43 base64url characters: 256 random bits>. Never an API key's shape, so no API accepts it as one.
const TOKEN_PATTERN = /^igcs_[A-Za-z0-9_-]{43}$/;

export function newSessionToken(): string {
  return `igcs_${randomBytes(32).toString('base64url')}`;
}

/** Whether a string has a session token's shape (checked before any lookup). */
export function isSessionToken(value: string | null | undefined): value is string {
  return typeof value === 'string' && TOKEN_PATTERN.test(value);
}

/** Tokens are stored only as this hash. */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A connect session as services and pages see it. */
export interface ConnectSession {
  id: string;
  organizationId: string;
  createdByKeyId: string;
  endUser: EndUser;
  /** Null: every provider of the catalog. */
  allowedProviders: string[] | null;
  /** Null: every auth kind. */
  allowedAuthKinds: AuthKind[] | null;
  allowedOrigins: string[];
  environment: string | null;
  returnUrl: string | null;
  /** The integration reconnected (`reconnect`), or the one the session created. */
  integrationId: string | null;
  reconnect: boolean;
  attempts: number;
  createdAt: Date;
  expiresAt: Date;
  spentAt: Date | null;
  /** The key that issued it was revoked: the session opens nothing. */
  keyRevoked: boolean;
}

export function toConnectSession(row: SessionWithKey): ConnectSession {
  return {
    id: row.id,
    organizationId: row.organization_id,
    createdByKeyId: row.created_by_key_id,
    endUser: { id: row.end_user_id, displayName: row.end_user_display_name, email: row.end_user_email },
    allowedProviders: row.allowed_providers,
    allowedAuthKinds: row.allowed_auth_kinds,
    allowedOrigins: row.allowed_origins,
    environment: row.environment,
    returnUrl: row.return_url,
    integrationId: row.integration_id,
    reconnect: row.reconnect,
    attempts: row.attempts,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    spentAt: row.spent_at,
    keyRevoked: row.key_revoked,
  };
}

/** What a session is good for now: `live` opens the page; the rest say why it does not. */
export type SessionState = 'live' | 'spent' | 'expired' | 'withdrawn';

export function sessionState(session: ConnectSession, now = Date.now()): SessionState {
  if (session.spentAt) return 'spent';
  if (session.keyRevoked) return 'withdrawn';
  if (session.expiresAt.getTime() <= now) return 'expired';
  return 'live';
}
