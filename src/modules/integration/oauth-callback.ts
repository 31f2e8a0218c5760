import type { Kysely } from 'kysely';
import { exchangeCode, OAuthError } from '../../connectors/oauth.js';
import { oauthEndpoints } from '../../connectors/oauth-endpoints.js';
import { CredentialOriginError } from '../../connectors/origins.js';
import { credentialOrigins, runProbe } from '../../connectors/probe.js';
import type { Database, IntegrationRow, IntegrationUpdate, OAuthStateRow } from '../../db/database.js';
import type { GatewayServices } from '../../services.js';
import { hashState } from './authorization-start.js';
import { connectorTarget, openBundle, sealBundle } from './credential-bundle.js';
import { recordProbe } from './health-recording.js';
import { schedulePatch } from './integration.input.js';
import { oauthCallbackActor } from '../events/event-actor.js';
import { insertEventRow } from './integration-event.repository.js';
import { appendIntegrationEvent, appendTransitions, checkOf, connectionOf } from './integration.events.js';
import { lockIntegrationRow, updateIntegrationRow } from './integration.repository.js';
import { consumeOAuthState } from './oauth-state.repository.js';
import { NEW_CREDENTIAL_REFRESH } from './refresh-record.js';

/** How a provider's return ended: refused outright (no valid state), or with the browser to send back. */
export type AuthorizationOutcome =
  | { kind: 'refused'; message: string }
  | { kind: 'returned'; returnUrl: string; integrationId: string; outcome: 'connected' | 'error'; error?: string };

/** Where the browser goes back to, saying how the connection ended. */
function back(state: OAuthStateRow, outcome: 'connected' | 'error', error?: string): AuthorizationOutcome {
  return { kind: 'returned', returnUrl: state.return_url, integrationId: state.integration_id, outcome, ...(error ? { error } : {}) };
}

const refused = (message: string): AuthorizationOutcome => ({ kind: 'refused', message });

/**
 * What the authorization was started for: the name, environment, config and scopes it holds, which the
 * integration takes with the tokens, with the schedule settings asked for. A state from before these were
 * held applies none of them.
 */
function requestedSettings(
  state: OAuthStateRow,
  integration: IntegrationRow,
): { config: Record<string, unknown>; patch: IntegrationUpdate } {
  const schedule = state.schedule ? schedulePatch(state.schedule) : {};
  if (state.config === null) return { config: integration.config, patch: schedule };
  return {
    config: state.config,
    patch: {
      display_name: state.display_name ?? integration.display_name,
      environment: state.environment,
      config: JSON.stringify(state.config),
      requested_scopes: state.scopes,
      ...schedule,
    },
  };
}

/**
 * The provider's redirect after the user authorized (or refused). The state is checked and spent,
 * the code exchanged, the tokens committed encrypted, the connection probed, and the browser sent back
 * to the return URL with the outcome. Every failure leaves no credential and a clear outcome; a failed
 * reconnection leaves the integration as it was. The tokens are bound to the origins of the config the
 * authorization was started for, which the integration takes in the same transaction.
 */
export async function completeAuthorization(
  services: GatewayServices,
  db: Kysely<Database>,
  params: URLSearchParams,
  requestId: string,
): Promise<AuthorizationOutcome> {
  const stateParam = params.get('state');
  if (!stateParam || stateParam.length > 512)
    return refused('This authorization response has no valid state. Start the connection again.');
  const consumed = await consumeOAuthState(db, hashState(stateParam));
  if (!consumed) return refused('This authorization link is unknown or was withdrawn. Start the connection again.');
  const { row: state, firstUse } = consumed;
  const origin = { actor: oauthCallbackActor(state.actor_key_id), requestId };
  /**
   * Records a failed authorization. A new integration still waiting for it moves to ERROR with the
   * reason, so that it does not look pending forever; a reconnection keeps its status.
   */
  const fail = (reason: string, detail: Record<string, unknown> = {}) =>
    db.transaction().execute(async (trx) => {
      const current = await lockIntegrationRow(trx, state.organization_id, state.integration_id);
      if (current?.status === 'PENDING_AUTHORIZATION') {
        const updated = await updateIntegrationRow(trx, current.id, {
          status: 'ERROR',
          status_reason: `Authorization failed: ${reason}.`,
        });
        await appendTransitions(trx, origin, current, updated);
      }
      await insertEventRow(trx, {
        organization_id: state.organization_id,
        integration_id: state.integration_id,
        actor_key_id: state.actor_key_id,
        type: 'integration.authorization_failed',
        outcome: 'FAILED',
        request_id: requestId,
        detail: { reason, ...detail },
      });
    });
  if (!firstUse) return back(state, 'error', 'state_already_used');
  if (state.expires_at.getTime() <= Date.now()) {
    await fail('state_expired');
    return back(state, 'error', 'state_expired');
  }
  const providerError = params.get('error');
  const code = params.get('code');
  if (providerError || !code) {
    const reason = (providerError ?? 'missing_code').replace(/[^\w.-]/g, '').slice(0, 64);
    await fail(reason || 'provider_error');
    return back(state, 'error', reason || 'provider_error');
  }

  const integration = await db.selectFrom('integrations').selectAll().where('id', '=', state.integration_id).executeTakeFirst();
  if (!integration || integration.status === 'REVOKED') return back(state, 'error', 'integration_revoked');
  const requested = requestedSettings(state, integration);
  const target = connectorTarget(services, { provider: integration.provider, config: requested.config });
  const endpoints = oauthEndpoints(target);
  if (!endpoints) return back(state, 'error', 'not_configured');
  const origins = credentialOrigins(target, 'OAUTH2');
  let tokens: Awaited<ReturnType<typeof exchangeCode>>;
  try {
    tokens = await exchangeCode(
      endpoints,
      { code, codeVerifier: state.code_verifier, redirectUri: state.redirect_uri, state: stateParam },
      services.http,
      target.definition.key,
      services.probeTimeoutMs,
    );
  } catch (error) {
    // A token endpoint where the client is not registered (its config altered since the authorization
    // started) was not sent the code or the client secret.
    if (error instanceof CredentialOriginError) {
      await fail('client_origin_mismatch');
      return back(state, 'error', 'client_origin_mismatch');
    }
    if (!(error instanceof OAuthError)) throw error;
    await fail('token_exchange_failed', { code: error.code, oauthError: error.oauthError });
    return back(state, 'error', 'token_exchange_failed');
  }

  // Tokens are committed before they are used, so nothing that follows can lose them.
  const authorized = await db.transaction().execute(async (trx) => {
    const current = await lockIntegrationRow(trx, state.organization_id, state.integration_id);
    if (!current || current.status === 'REVOKED') return null;
    const bundle = openBundle(services, current);
    const saved = await updateIntegrationRow(trx, current.id, {
      ...requested.patch,
      ...sealBundle(services, current, { ...bundle, credential: tokens.credential }, origins),
      ...NEW_CREDENTIAL_REFRESH,
      auth_kind: 'OAUTH2',
      status: 'ACTIVE',
      status_reason: null,
      granted_scopes: tokens.grantedScopes,
    });
    await insertEventRow(trx, {
      organization_id: state.organization_id,
      integration_id: current.id,
      actor_key_id: state.actor_key_id,
      type: 'integration.authorized',
      outcome: 'SUCCEEDED',
      request_id: requestId,
      detail: { grantedScopes: tokens.grantedScopes },
    });
    // An integration that had a credential before gets a new one: a reconnection.
    const type = bundle.credential ? 'integration.reconnected' : 'integration.connected';
    await appendIntegrationEvent(trx, origin, saved, type, connectionOf(saved));
    await appendTransitions(trx, origin, current, saved);
    return saved;
  });
  if (!authorized) return back(state, 'error', 'integration_revoked');

  const outcome = await runProbe(target, tokens.credential, services.http, services.probeTimeoutMs, origins);
  await db.transaction().execute(async (trx) => {
    const current = await lockIntegrationRow(trx, state.organization_id, state.integration_id);
    if (!current || current.status === 'REVOKED') return;
    const { patch } = await recordProbe(trx, current, outcome, target);
    const probed = await updateIntegrationRow(trx, current.id, patch);
    await appendTransitions(trx, origin, current, probed, checkOf(outcome));
  });
  return back(state, 'connected', outcome.ok ? undefined : `probe_${(outcome.errorCode ?? 'failed').toLowerCase()}`);
}
