import type { Role } from '../../db/database.js';
import type { Organization } from '../organization/organization.repository.js';
import type { ApiKey } from './api-key.repository.js';

// Who a request acts as, and what each role may do: types and pure functions only, so that any layer
// (admission, limits, GraphQL, observability) may depend on them without reaching the services.

/** A person signed in through the organization's identity provider (OIDC), for the lifetime of their token. */
export interface SignedInUser {
  /** The identity provider (`iss`). */
  issuer: string;
  /** The user's id at the identity provider (`sub`): the audit trail's actor. */
  subject: string;
  /**
   * A UUID derived from the issuer and the subject (`userIdOf`), stable across tokens: it owns the user's
   * Idempotency-Keys and, with the organization, the user's rate-limit budget, as a key's id does for a key.
   */
  id: string;
}

/** The authenticated principal of a request: an API key, or a signed-in user; either acts for one organization. */
export type Viewer =
  | { organization: Organization; role: Role; apiKey: ApiKey; user: null }
  | { organization: Organization; role: Role; apiKey: null; user: SignedInUser };

/** The id that owns what is the caller's own (Idempotency-Keys, a rate-limit budget): the API key's, or the user's. */
export function callerIdOf(viewer: Viewer): string {
  return viewer.apiKey ? viewer.apiKey.id : viewer.user.id;
}

/** The caller in words, for reasons people read ("API key igw_0123456789ab", "user 248289761001"). */
export function callerNameOf(viewer: Viewer): string {
  return viewer.apiKey ? `API key ${viewer.apiKey.prefix}` : `user ${viewer.user.subject}`;
}

export const ROLES: readonly Role[] = ['VIEWER', 'EDITOR', 'ADMIN'];
const ROLE_RANK: Record<Role, number> = { VIEWER: 0, EDITOR: 1, ADMIN: 2 };

export function hasRole(viewer: Pick<Viewer, 'role'>, needed: Role): boolean {
  return ROLE_RANK[viewer.role] >= ROLE_RANK[needed];
}

/** The auth scopes fields name in `authScopes` (src/graphql/builder.ts). */
export interface RoleScopes {
  viewer: boolean;
  editor: boolean;
  admin: boolean;
}

/** The scopes a role holds: each role holds those of the roles below it. */
export function scopesOfRole(role: Role): RoleScopes {
  return { viewer: true, editor: ROLE_RANK[role] >= ROLE_RANK.EDITOR, admin: ROLE_RANK[role] >= ROLE_RANK.ADMIN };
}
