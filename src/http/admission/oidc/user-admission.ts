import type { Kysely } from 'kysely';
import type { Database } from '../../../db/database.js';
import type { Viewer } from '../../../modules/api-key/viewer.js';
import { findOrganizationByReference, type Organization } from '../../../modules/organization/organization.repository.js';
import type { Vault } from '../../../services.js';
import type { OidcVerifier } from './oidc-verifier.js';

/**
 * Sign-in by the organization's identity provider, the strategy admission uses for a bearer JWT (an API
 * key goes to the AdmissionStore): verify the token, find the organization its claim names, and make
 * the viewer. Parse (readCredential) -> verify -> find -> viewer, as for a key.
 */
export interface UserAdmission {
  verifier: OidcVerifier;
  /** The organization a token's claim names (slug, id or GraphQL ID). */
  findOrganization(reference: string): Promise<Organization | undefined>;
  /** The secrets a user's stored answers are sealed under (current encryption key's first). */
  secretsOf(userId: string): string[];
}

export function userAdmission(db: Kysely<Database>, verifier: OidcVerifier, vault: Vault): UserAdmission {
  return {
    verifier,
    findOrganization: (reference) => findOrganizationByReference(db, reference),
    secretsOf: (userId) => vault.derive(`idempotent answers of user ${userId}`),
  };
}

export type SignIn = { viewer: Viewer; secrets: string[] } | { refused: string };

/** A signed-in viewer for a bearer JWT, or why not (for the log line); throws IdentityProviderUnavailableError. */
export async function signIn(users: UserAdmission, jwt: string): Promise<SignIn> {
  const verification = await users.verifier.verify(jwt);
  if ('refused' in verification) return verification;
  const { token } = verification;
  const organization = await users.findOrganization(token.organization);
  if (!organization) return { refused: `no organization is named by the token's organization claim` };
  const user = { issuer: token.issuer, subject: token.subject, id: token.userId };
  return { viewer: { organization, role: token.role, apiKey: null, user }, secrets: users.secretsOf(user.id) };
}
