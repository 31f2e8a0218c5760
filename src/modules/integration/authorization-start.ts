import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  buildAuthorizationUrl,
  newAuthorizationSecrets,
  type OAuthEndpoints,
  oauthEndpoints,
  unregisteredClientUrl,
} from '../../connectors/oauth-endpoints.js';
import { originOf, unregisteredOrigin } from '../../connectors/origins.js';
import type { ConnectorDefinition } from '../../connectors/registry.js';
import type { ConnectorTarget } from '../../connectors/settings.js';
import type { AuthKind, Database, IntegrationRow, ScheduleSettings } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { OAUTH_DONE_PATH } from '../../http/oauth-done.js';
import type { GatewayServices } from '../../services.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import { type MutationActor, recordEvent } from './integration.audit.js';
import { cleanReturnUrl, schedulePatch } from './integration.input.js';
import { type Integration, toIntegration } from './integration.model.js';
import { insertIntegrationRow, lockIntegrationRow } from './integration.repository.js';
import { expireOAuthStates, insertOAuthState } from './oauth-state.repository.js';
import { noteSessionIntegration } from '../connect-session/connect-session.repository.js';

/** How long a started OAuth2 authorization may take. */
export const AUTHORIZATION_TTL_MS = 10 * 60_000;

/** The state is stored only as this hash, so the table alone does not hold the value a callback presents. */
export function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

/**
 * Refuses an OAuth2 connection whose config resolves the endpoints that receive the client secret to an
 * origin the deployment's client is not registered at: the user could otherwise have the gateway post
 * its client secret to a server of their choosing during the code exchange.
 */
function assertClientRegisteredFor(definition: ConnectorDefinition, endpoints: OAuthEndpoints): void {
  const outside = unregisteredClientUrl(endpoints);
  if (!outside) return;
  const templates = [definition.apiUrl, definition.oauth2?.tokenUrl, definition.oauth2?.revokeUrl].join(' ');
  const field = definition.configFields.find((candidate) => templates.includes(`{${candidate.name}`));
  const others = definition.authKinds.filter((kind) => kind !== 'OAUTH2').join(' or ');
  throw new ServiceError(
    'VALIDATION',
    `${unregisteredOrigin(endpoints.client, originOf(outside))}, where this config would send its secret. ` +
      `Connect this ${field?.name ?? 'config'} with ${others}, ` +
      `or have the gateway's OAuth2 client registered there (${endpoints.client.variable}).`,
    field ? ['config', field.name] : ['config'],
  );
}

/** The columns a connection gives a new integration, validated by the caller. */
export interface ConnectionColumns {
  provider: string;
  display_name: string;
  environment: string | null;
  auth_kind: AuthKind;
  requested_scopes: string[];
  /** The config as JSON text. */
  config: string;
  /** The end user a connect session connects the integration for. */
  end_user_id?: string;
  end_user_display_name?: string | null;
  end_user_email?: string | null;
}

/** An OAuth2 connection to start, validated by connectIntegration. */
export interface AuthorizationRequest {
  definition: ConnectorDefinition;
  target: ConnectorTarget;
  /** The integration reconnected, or the one a crashed attempt started to authorize; absent: a new one. */
  existing: IntegrationRow | undefined;
  base: ConnectionColumns;
  /** The schedule settings asked for: a new integration takes them at once, a reconnection with its tokens. */
  schedule: ScheduleSettings;
  returnUrl: string | null | undefined;
  /** Whether the caller asked to reconnect an integration, for the audit event. */
  reconnect: boolean;
}

/**
 * Starts an OAuth2 authorization: a pending integration (or the reconnected one, unchanged) and a
 * one-time state holding what the callback applies with the tokens; returns the provider's URL.
 */
export async function startAuthorization(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  request: AuthorizationRequest,
): Promise<{ integration: Integration; authorizationUrl: string }> {
  const { definition, target, existing, base } = request;
  const organizationId = actor.viewer.organization.id;
  const endpoints = oauthEndpoints(target);
  if (!endpoints)
    throw new ServiceError('NOT_CONFIGURED', `This gateway has no OAuth2 client for ${definition.name}; see the README.`, ['authKind']);
  assertClientRegisteredFor(definition, endpoints);
  const publicUrl = services.publicUrl.replace(/\/+$/, '');
  const returnUrl = request.returnUrl == null ? `${publicUrl}${OAUTH_DONE_PATH}` : cleanReturnUrl(request.returnUrl);
  const secrets = await newAuthorizationSecrets(endpoints.definition.pkce);
  const redirectUri = `${publicUrl}/oauth/callback`;
  const row = await commitWithLiveKey(db, actor, async (trx) => {
    let current: IntegrationRow;
    if (existing) {
      const locked = await lockIntegrationRow(trx, organizationId, existing.id);
      if (!locked || locked.status === 'REVOKED')
        throw new ServiceError('ALREADY_REVOKED', 'The integration was revoked meanwhile.', ['integrationId']);
      await expireOAuthStates(trx, locked.id);
      // The integration stays exactly as it is, its credential still bound to its current config, until
      // the callback brings tokens issued for the requested config: a reconnection never completed (or
      // failed) leaves nothing changed, and no stored credential follows a config it was not issued for.
      current = locked;
    } else {
      current = await insertIntegrationRow(trx, {
        ...base,
        ...schedulePatch(request.schedule),
        organization_id: organizationId,
        status: 'PENDING_AUTHORIZATION',
      });
    }
    await insertOAuthState(trx, {
      state_hash: hashState(secrets.state),
      organization_id: organizationId,
      integration_id: current.id,
      actor_key_id: actor.viewer.apiKey?.id ?? null,
      actor_subject: actor.viewer.user?.subject ?? null,
      code_verifier: secrets.codeVerifier,
      redirect_uri: redirectUri,
      return_url: returnUrl,
      scopes: base.requested_scopes,
      display_name: base.display_name,
      environment: base.environment,
      config: base.config,
      schedule: Object.keys(request.schedule).length > 0 ? JSON.stringify(request.schedule) : null,
      connect_session_id: actor.connectSession?.id ?? null,
      expires_at: new Date(Date.now() + AUTHORIZATION_TTL_MS),
    });
    // The session's later attempts (another try after the user gave up at the provider) reuse this integration.
    if (actor.connectSession && !existing) await noteSessionIntegration(trx, actor.connectSession.id, current.id);
    await recordEvent(trx, actor, current.id, 'integration.authorization_started', 'SUCCEEDED', {
      provider: definition.key,
      scopes: base.requested_scopes,
      reconnect: request.reconnect,
    });
    return current;
  });
  const authorizationUrl = buildAuthorizationUrl(endpoints, {
    state: secrets.state,
    codeChallenge: secrets.codeChallenge,
    scopes: base.requested_scopes,
    redirectUri,
  });
  return { integration: toIntegration(row), authorizationUrl };
}
