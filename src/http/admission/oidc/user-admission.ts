import type { Kysely } from 'kysely';
import type { Database } from '../../../db/database.js';
import type { Viewer } from '../../../modules/api-key/viewer.js';
import { findOrganizationByReference, type Organization } from '../../../modules/organization/organization.repository.js';
import type { Vault } from '../../../services.js';
import type { BucketRow } from '../../limits/rate-limit-store.js';
import type { ChargeOnAuthentication } from '../admission-store.js';
import type { OidcVerifier } from './oidc-verifier.js';
import { findOrganizationCharging } from './user-admission.repository.js';

/**
 * Sign-in by the organization's identity provider, the strategy admission uses for a bearer JWT (an API
 * key goes to the AdmissionStore): verify the token, find the organization its claim names, and make
 * the viewer. Parse (readCredential) -> verify -> find -> viewer, as for a key.
 */
export interface UserAdmission {
  verifier: OidcVerifier;
  /** The organization a token's claim names (slug, id or GraphQL ID). */
  findOrganization(reference: string): Promise<Organization | undefined>;
  /** The same, charging the user's and the organization's budgets in the same statement when it exists. */
  findOrganizationCharging(
    reference: string,
    userId: string,
    charge: ChargeOnAuthentication,
  ): Promise<{ organization: Organization; charged: BucketRow[] } | undefined>;
  /** The secrets a user's stored answers are sealed under (current encryption key's first). */
  secretsOf(userId: string): string[];
}

export function userAdmission(db: Kysely<Database>, verifier: OidcVerifier, vault: Vault): UserAdmission {
  return {
    verifier,
    findOrganization: (reference) => findOrganizationByReference(db, reference),
    findOrganizationCharging: (reference, userId, charge) =>
      findOrganizationCharging(db, reference, userId, charge.points, charge.budgets),
    secretsOf: (userId) => vault.derive(`idempotent answers of user ${userId}`),
  };
}

export type SignIn = { viewer: Viewer; secrets: string[]; charged?: BucketRow[] } | { refused: string };

/**
 * A signed-in viewer for a bearer JWT, or why not (for the log line); throws IdentityProviderUnavailableError.
 * With `charge`, and when the token's role may run the operation, the organization is found and the
 * charge made in one statement (`charged`), as for an API key.
 */
export async function signIn(users: UserAdmission, jwt: string, charge: ChargeOnAuthentication | null = null): Promise<SignIn> {
  const verification = await users.verifier.verify(jwt);
  if ('refused' in verification) return verification;
  const { token } = verification;
  // A role that may not run the operation is charged nothing: it is refused whole when it runs.
  const charging = charge?.roles.includes(token.role) ? charge : null;
  const found = charging
    ? await users.findOrganizationCharging(token.organization, token.userId, charging)
    : await users.findOrganization(token.organization).then((organization) => organization && { organization, charged: undefined });
  if (!found) return { refused: `no organization is named by the token's organization claim` };
  const user = { issuer: token.issuer, subject: token.subject, id: token.userId };
  const viewer: Viewer = { organization: found.organization, role: token.role, apiKey: null, user };
  return { viewer, secrets: users.secretsOf(user.id), ...(found.charged ? { charged: found.charged } : {}) };
}
