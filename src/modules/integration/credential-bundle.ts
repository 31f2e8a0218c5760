import { type Credential, EMPTY_BUNDLE, type SecretBundle } from '../../connectors/credentials.js';
import { type CredentialOrigins, parseOrigins, serializeOrigins } from '../../connectors/origins.js';
import { credentialOrigins } from '../../connectors/probe.js';
import type { ConnectorTarget } from '../../connectors/settings.js';
import { findConnector } from '../../connectors/registry.js';
import type { IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { SecretVaultError } from '../../secrets/vault.js';
import type { GatewayServices } from '../../services.js';

export function connectorTarget(services: GatewayServices, row: Pick<IntegrationRow, 'provider' | 'config'>): ConnectorTarget {
  const definition = findConnector(row.provider);
  if (!definition) throw new ServiceError('VALIDATION', `The provider "${row.provider}" is no longer in the catalog.`, ['provider']);
  const config = Object.fromEntries(Object.entries(row.config).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  return { definition, settings: services.connectorSettings[definition.key] ?? {}, config };
}

function unreadable(services: GatewayServices, row: Pick<IntegrationRow, 'id'>, reason: string): ServiceError {
  services.logger.warn({ integrationId: row.id, reason }, 'stored credential could not be opened');
  return new ServiceError(
    'CREDENTIAL_UNREADABLE',
    'The stored credential could not be decrypted: it was altered, or sealed under a key this gateway lacks. ' +
      'Nothing was sent; reconnect the integration.',
    ['id'],
  );
}

/** Opens the row's secrets; a ciphertext that fails authentication (its origins column altered included) is CREDENTIAL_UNREADABLE. */
export function openBundle(services: GatewayServices, row: IntegrationRow): SecretBundle {
  if (row.secret_ciphertext === null || row.secret_key_id === null) return EMPTY_BUNDLE;
  try {
    return services.vault.open<SecretBundle>(row.secret_ciphertext, row.secret_key_id, {
      organizationId: row.organization_id,
      integrationId: row.id,
      version: row.secret_version,
      origins: row.secret_origins,
    });
  } catch (error) {
    if (error instanceof SecretVaultError) throw unreadable(services, row, error.message);
    throw error;
  }
}

/**
 * Where the row's credential may be sent: the origins stored with it, which `openBundle` has
 * authenticated. A credential sealed before origins were bound (`secret_origins` null) may go only to
 * what the row's current config resolves to now, and is bound to exactly that at its next seal (any
 * refresh, replacement or webhook secret rotation). Its config can no longer change without a new
 * credential (a reconnection applies config and credential together), so this is the origin it was
 * issued for unless the row was altered before binding existed.
 */
export function boundOrigins(services: GatewayServices, row: IntegrationRow): CredentialOrigins {
  if (row.secret_origins === null) return credentialOrigins(connectorTarget(services, row), row.auth_kind);
  try {
    return parseOrigins(row.secret_origins);
  } catch {
    throw unreadable(services, row, 'secret_origins is not valid');
  }
}

/**
 * Seals a bundle under the next secret version, bound to `origins`: those of the target a new credential
 * was issued for or probed against, or, when the credential carries over, the row's `boundOrigins`,
 * never ones recomputed from a config that may have changed since. The returned columns go into the
 * same update.
 */
export function sealBundle(
  services: GatewayServices,
  row: Pick<IntegrationRow, 'organization_id' | 'id' | 'secret_version'>,
  bundle: SecretBundle,
  origins: CredentialOrigins | null,
): Pick<
  IntegrationUpdate,
  | 'secret_ciphertext'
  | 'secret_key_id'
  | 'secret_version'
  | 'secret_origins'
  | 'credential_expires_at'
  | 'credential_obtained_at'
  | 'credential_refreshable'
  | 'next_refresh_at'
> {
  if (bundle.credential && !origins) throw new Error('A credential is sealed with the origins it may be sent to.');
  const version = row.secret_version + 1;
  const stored = bundle.credential && origins ? serializeOrigins(origins) : null;
  const sealed = services.vault.seal(bundle, { organizationId: row.organization_id, integrationId: row.id, version, origins: stored });
  const oauth2 = bundle.credential?.kind === 'OAUTH2' ? bundle.credential : null;
  return {
    secret_ciphertext: sealed.ciphertext,
    secret_key_id: sealed.keyId,
    secret_version: version,
    secret_origins: stored,
    credential_expires_at: oauth2?.expiresAt ?? null,
    // The tokens' age, which the engine refreshes by: a credential sealed before it was recorded keeps
    // the column as it is (its row's last change until then) when it is sealed again unchanged.
    ...(oauth2?.obtainedAt || !oauth2 ? { credential_obtained_at: oauth2?.obtainedAt ?? null } : {}),
    credential_refreshable: Boolean(oauth2?.refreshToken),
    // The refresh schedule follows the expiry: in the same statement as a new one, the schedule taken
    // from the old one goes, and the engine schedules anew from the new (a crash between cannot keep it).
    next_refresh_at: null,
  };
}

export function requireCredential(bundle: SecretBundle): Credential {
  if (!bundle.credential)
    throw new ServiceError('CONFLICT', 'The integration has no credential: it is not authorized yet, or it was revoked.', ['id']);
  return bundle.credential;
}
