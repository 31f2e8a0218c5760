import type { Role } from '../../db/database.js';
import type { Organization } from '../organization/organization.repository.js';
import type { ApiKey } from './api-key.repository.js';

// Who a request acts as, and what each role may do: types and pure functions only, so that any layer
// (admission, limits, GraphQL, observability) may depend on them without reaching the services.

/** The authenticated principal of a request. */
export interface Viewer {
  organization: Organization;
  apiKey: ApiKey;
  role: Role;
}

export const ROLES: readonly Role[] = ['VIEWER', 'EDITOR', 'ADMIN'];
const ROLE_RANK: Record<Role, number> = { VIEWER: 0, EDITOR: 1, ADMIN: 2 };

export function hasRole(viewer: Viewer, needed: Role): boolean {
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
