import type { JWTPayload } from 'jose';
import type { Role } from '../../../db/database.js';
import { ROLES } from '../../../modules/api-key/viewer.js';

// How a verified token's claims name the organization and the role: pure functions, tested beside.

/** Why a verified token does not admit its bearer: a reason for the log line, never shown to the caller. */
export class ClaimRefusal extends Error {
  override name = 'ClaimRefusal';
}

/**
 * A claim's value by its name: the claim of exactly that name (Auth0's namespaced claims are URLs with
 * dots), else, for a dotted name, the path through nested objects (`realm_access.roles`, `o.slg`).
 */
export function claimAt(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Organization references are slugs, UUIDs or GraphQL IDs: short, printable, no spaces. */
const ORGANIZATION_REFERENCE = /^[\x21-\x7e]{1,200}$/;

/** The organization the token is for: one string (its slug, its id or its GraphQL ID); anything else refuses it. */
export function organizationClaim(payload: JWTPayload, name: string): string {
  const value = claimAt(payload, name);
  if (value === undefined) throw new ClaimRefusal(`the token has no "${name}" claim naming its organization`);
  if (typeof value !== 'string' || !ORGANIZATION_REFERENCE.test(value))
    throw new ClaimRefusal(`the "${name}" claim is not one organization's slug or id`);
  return value;
}

const RANK: Record<Role, number> = { VIEWER: 0, EDITOR: 1, ADMIN: 2 };

/** The role a claim value names (`viewer`, `EDITOR`, `Admin`...), or undefined. */
function roleNamed(value: unknown): Role | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.trim().toUpperCase();
  return ROLES.find((role) => role === upper);
}

/**
 * The role the token grants. No role claim configured, or the claim absent: VIEWER. A string must name a
 * role (VIEWER, EDITOR or ADMIN, in any case); any other value refuses the token rather than granting
 * anything, since it may mean something this gateway does not know (a suspended user, another product's
 * role). An array (a list of groups or roles) grants the highest role it names, and its other entries are
 * ignored; an array naming none refuses the token.
 */
export function roleClaim(payload: JWTPayload, name: string | undefined): Role {
  if (!name) return 'VIEWER';
  const value = claimAt(payload, name);
  if (value === undefined || value === null) return 'VIEWER';
  if (Array.isArray(value)) {
    const named = value.map(roleNamed).filter((role): role is Role => role !== undefined);
    if (named.length === 0) throw new ClaimRefusal(`the "${name}" claim names no role of this gateway`);
    return named.reduce((best, role) => (RANK[role] > RANK[best] ? role : best));
  }
  const role = roleNamed(value);
  if (!role) throw new ClaimRefusal(`the "${name}" claim is not a role of this gateway (VIEWER, EDITOR or ADMIN)`);
  return role;
}
