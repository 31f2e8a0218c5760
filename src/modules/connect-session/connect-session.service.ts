import type { Kysely } from 'kysely';
import { type ConnectorDefinition, listConnectors } from '../../connectors/registry.js';
import { oauthConfigured } from '../../connectors/settings.js';
import type { AuthKind, Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import { type MutationActor, recordEvent } from '../integration/integration.audit.js';
import { cleanEnvironment } from '../integration/integration.input.js';
import { findIntegrationRow } from '../integration/integration.repository.js';
import {
  cleanAllowedAuthKinds,
  cleanAllowedOrigins,
  cleanAllowedProviders,
  cleanEndUser,
  cleanExpiresIn,
  cleanSessionReturnUrl,
  type EndUserInput,
} from './connect-session.input.js';
import { CONNECT_PATH, type ConnectSession, hashSessionToken, newSessionToken } from './connect-session.model.js';
import { insertConnectSession } from './connect-session.repository.js';

export interface CreateConnectSessionInput {
  endUser: EndUserInput;
  allowedProviders?: readonly string[] | null;
  allowedAuthKinds?: readonly string[] | null;
  /** Reconnect this integration (its provider only) instead of connecting a new one. */
  integrationId?: string | null;
  environment?: string | null;
  returnUrl?: string | null;
  allowedOrigins?: readonly string[] | null;
  expiresInSeconds?: number | null;
}

export interface CreatedConnectSession {
  /** Shown this once; only its hash is stored. */
  token: string;
  connectUrl: string;
  expiresAt: Date;
}

/** One provider the hosted page offers, with the auth kinds it may be connected with. */
export interface ProviderOffer {
  definition: ConnectorDefinition;
  authKinds: AuthKind[];
}

/**
 * What a session's limits leave to connect on this deployment: the allowed providers of the catalog,
 * each with the allowed auth kinds it has (OAuth2 only where the deployment has a client for it).
 */
export function sessionOffers(
  services: GatewayServices,
  limits: { allowedProviders: readonly string[] | null; allowedAuthKinds: readonly AuthKind[] | null },
): ProviderOffer[] {
  return listConnectors()
    .filter((definition) => !limits.allowedProviders || limits.allowedProviders.includes(definition.key))
    .map((definition) => ({
      definition,
      authKinds: definition.authKinds.filter(
        (kind) =>
          (!limits.allowedAuthKinds || limits.allowedAuthKinds.includes(kind)) &&
          (kind !== 'OAUTH2' || oauthConfigured(definition, services.connectorSettings[definition.key])),
      ),
    }))
    .filter((offer) => offer.authKinds.length > 0);
}

/** The link that opens the hosted connect page for a token. */
export function connectUrlOf(services: GatewayServices, token: string): string {
  return `${services.publicUrl.replace(/\/+$/, '')}${CONNECT_PATH}?token=${token}`;
}

/**
 * Issues a connect session for one end user: a random token (stored hashed) that opens the hosted
 * connect page within the given limits until it expires or connects an integration. A reconnection
 * session is limited to the integration's provider and must be for its end user (or for one it has
 * none of yet). Requires EDITOR (the mutation's scope); recorded in the audit trail.
 */
export async function createConnectSession(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  input: CreateConnectSessionInput,
): Promise<CreatedConnectSession & { session: Pick<ConnectSession, 'id'> }> {
  const endUser = cleanEndUser(input.endUser);
  let allowedProviders = cleanAllowedProviders(input.allowedProviders);
  const allowedAuthKinds = cleanAllowedAuthKinds(input.allowedAuthKinds);
  const environment = cleanEnvironment(input.environment);
  const returnUrl = cleanSessionReturnUrl(input.returnUrl);
  const allowedOrigins = cleanAllowedOrigins(input.allowedOrigins);
  const ttlSeconds = cleanExpiresIn(input.expiresInSeconds);
  const organizationId = actor.viewer.organization.id;
  // A session lives as long as the API key that issued it stands; a signed-in user's token expires within
  // the hour and cannot be withdrawn, so a backend issues sessions with its key.
  const issuer = actor.viewer.apiKey;
  if (!issuer) throw new ServiceError('FORBIDDEN', 'Connect sessions are created with an API key, by a backend.', []);

  if (input.integrationId) {
    const integration = await findIntegrationRow(db, organizationId, input.integrationId);
    if (!integration) throw new ServiceError('NOT_FOUND', 'No such integration.', ['integrationId']);
    if (integration.status === 'REVOKED')
      throw new ServiceError('ALREADY_REVOKED', 'A revoked integration cannot be reconnected; connect a new one.', ['integrationId']);
    if (integration.end_user_id !== null && integration.end_user_id !== endUser.id)
      throw new ServiceError('FORBIDDEN', 'The integration was connected for another end user.', ['integrationId']);
    if (allowedProviders && !allowedProviders.includes(integration.provider))
      throw new ServiceError('VALIDATION', "allowedProviders leaves out the integration's provider.", ['allowedProviders']);
    allowedProviders = [integration.provider];
  }
  if (sessionOffers(services, { allowedProviders, allowedAuthKinds }).length === 0) {
    throw new ServiceError(
      'VALIDATION',
      'No allowed provider can be connected with the allowed auth kinds on this gateway (OAuth2 needs a configured client).',
      [allowedAuthKinds ? 'allowedAuthKinds' : 'allowedProviders'],
    );
  }

  const token = newSessionToken();
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const session = await commitWithLiveKey(db, actor, async (trx) => {
    const row = await insertConnectSession(trx, {
      organization_id: organizationId,
      created_by_key_id: issuer.id,
      token_hash: hashSessionToken(token),
      end_user_id: endUser.id,
      end_user_display_name: endUser.displayName,
      end_user_email: endUser.email,
      allowed_providers: allowedProviders,
      allowed_auth_kinds: allowedAuthKinds,
      allowed_origins: allowedOrigins,
      environment,
      return_url: returnUrl,
      integration_id: input.integrationId ?? null,
      reconnect: Boolean(input.integrationId),
      expires_at: expiresAt,
    });
    await recordEvent(trx, actor, input.integrationId ?? null, 'connect_session.created', 'SUCCEEDED', {
      connectSessionId: row.id,
      endUserId: endUser.id,
      allowedProviders,
      allowedAuthKinds,
      reconnect: Boolean(input.integrationId),
      expiresAt: expiresAt.toISOString(),
    });
    return row;
  });
  return { token, connectUrl: connectUrlOf(services, token), expiresAt: session.expires_at, session: { id: session.id } };
}
