import type { Kysely } from 'kysely';
import { validateConfig } from '../../connectors/config-fields.js';
import { credentialOrigins, runProbe } from '../../connectors/probe.js';
import { findConnector } from '../../connectors/registry.js';
import type { AuthKind, Database, IntegrationRow } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import type { GatewayServices } from '../../services.js';
import {
  cleanDisplayName,
  cleanEnvironment,
  cleanSchedule,
  cleanScopes,
  type CredentialsInput,
  credentialFromInput,
  type ScheduleInput,
  schedulePatch,
} from './integration.input.js';
import { connectorTarget, openBundle, sealBundle } from './credential-bundle.js';
import { probeFailure, recordProbe } from './health-recording.js';
import { findResumableEvent } from './integration-event.repository.js';
import { type MutationActor, originOf, recordEvent } from './integration.audit.js';
import { appendIntegrationEvent, appendTransitions, checkOf, connectionOf } from './integration.events.js';
import { findIntegrationRow, insertIntegrationRow, lockIntegrationRow, updateIntegrationRow } from './integration.repository.js';
import { expireOAuthStates } from './oauth-state.repository.js';
import { type Integration, toIntegration } from './integration.model.js';
import { NEW_CREDENTIAL_REFRESH } from './refresh-record.js';
import { type ConnectionColumns, startAuthorization } from './authorization-start.js';

export interface ConnectInput extends ScheduleInput {
  provider: string;
  displayName: string;
  environment?: string | null;
  authKind: AuthKind;
  config?: Record<string, unknown> | null;
  scopes?: readonly string[] | null;
  credentials?: CredentialsInput | null;
  returnUrl?: string | null;
  /** Reconnect this integration instead of creating one; it keeps its id. */
  integrationId?: string | null;
}

export interface ConnectResult {
  integration: Integration;
  authorizationUrl: string | null;
}

/** After a crashed attempt with the same Idempotency-Key, the integration it connected or started to authorize, if it got that far. */
async function resumed(db: Kysely<Database>, actor: MutationActor): Promise<{ row: IntegrationRow; connected: boolean } | undefined> {
  if (!actor.resume) return undefined;
  const event = await findResumableEvent(
    db,
    actor.viewer.organization.id,
    ['integration.connected', 'integration.authorization_started'],
    actor.resume,
  );
  const row = event?.integration_id ? await findIntegrationRow(db, actor.viewer.organization.id, event.integration_id) : undefined;
  return event && row ? { row, connected: event.type === 'integration.connected' } : undefined;
}

/**
 * Connects a provider. A token or basic credential is probed before anything is stored; OAuth2 stores
 * a pending integration and returns the provider's authorization URL. An OAuth2 reconnection changes
 * nothing on the integration: the requested name, environment, config and scopes wait with the pending
 * authorization, and the callback applies them together with the new tokens.
 */
export async function connectIntegration(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  input: ConnectInput,
): Promise<ConnectResult> {
  const definition = findConnector(input.provider);
  if (!definition)
    throw new ServiceError('VALIDATION', `Unknown provider "${input.provider.slice(0, 64)}"; see the providers query.`, ['provider']);
  if (!definition.authKinds.includes(input.authKind)) {
    throw new ServiceError('VALIDATION', `${definition.name} connects with ${definition.authKinds.join(' or ')}.`, ['authKind']);
  }
  const displayName = cleanDisplayName(input.displayName);
  const environment = cleanEnvironment(input.environment);
  const { config, problems } = validateConfig(definition, input.config);
  const [problem] = problems;
  if (problem) throw new ServiceError('VALIDATION', problem.message, ['config', problem.field]);
  const scopes = cleanScopes(definition, input.scopes, ['scopes']);
  const schedule = cleanSchedule(input);
  const organizationId = actor.viewer.organization.id;

  const previous = await resumed(db, actor);
  if (previous && (previous.connected || previous.row.status === 'REVOKED'))
    return { integration: toIntegration(previous.row), authorizationUrl: null };
  // An authorization the earlier attempt started: its URL was lost with its answer, and only the hash of
  // its state was kept, so it starts again on the same integration with a fresh state.
  let existing: IntegrationRow | undefined = previous?.row;
  if (!existing && input.integrationId) {
    existing = await findIntegrationRow(db, organizationId, input.integrationId);
    if (!existing) throw new ServiceError('NOT_FOUND', 'No such integration.', ['integrationId']);
    if (existing.status === 'REVOKED')
      throw new ServiceError('ALREADY_REVOKED', 'A revoked integration cannot be reconnected; connect a new one.', ['integrationId']);
    if (existing.provider !== definition.key)
      throw new ServiceError('VALIDATION', "A reconnection must use the integration's provider.", ['provider']);
  }
  const target = { definition, settings: services.connectorSettings[definition.key] ?? {}, config };
  const base: ConnectionColumns = {
    provider: definition.key,
    display_name: displayName,
    environment,
    auth_kind: input.authKind,
    requested_scopes: scopes,
    config: JSON.stringify(config),
  };

  if (input.authKind === 'OAUTH2') {
    return startAuthorization(services, db, actor, {
      definition,
      target,
      existing,
      base,
      schedule,
      returnUrl: input.returnUrl,
      reconnect: Boolean(input.integrationId),
    });
  }

  const credential = credentialFromInput(input.authKind, input.credentials, ['credentials']);
  // The new credential is bound to the origins of the config it is probed with, which the row takes with it.
  const origins = credentialOrigins(target, input.authKind);
  const outcome = await runProbe(target, credential, services.http, services.probeTimeoutMs, origins);
  if (!outcome.ok) {
    await recordEvent(db, actor, existing?.id ?? null, 'integration.connect_failed', 'FAILED', {
      provider: definition.key,
      code: outcome.errorCode,
      httpStatus: outcome.httpStatus,
    });
    throw probeFailure(outcome, ['credentials']);
  }
  const row = await commitWithLiveKey(db, actor, async (trx) => {
    const current = existing
      ? await lockIntegrationRow(trx, organizationId, existing.id)
      : await insertIntegrationRow(trx, { ...base, ...schedulePatch(schedule), organization_id: organizationId, status: 'ACTIVE' });
    if (!current || current.status === 'REVOKED')
      throw new ServiceError('ALREADY_REVOKED', 'The integration was revoked meanwhile.', ['integrationId']);
    if (existing) await expireOAuthStates(trx, current.id);
    // A reconnection replaces the credential and keeps the webhook signing secret.
    const webhookSecret = existing ? openBundle(services, current).webhookSecret : null;
    const sealed = sealBundle(services, current, { credential, webhookSecret }, origins);
    // The new credential starts afresh: nothing of the replaced one's refreshes holds for it.
    const { patch } = await recordProbe(
      trx,
      { ...current, ...NEW_CREDENTIAL_REFRESH, requested_scopes: scopes },
      outcome,
      connectorTarget(services, { provider: definition.key, config }),
      {
        ...base,
        ...sealed,
        ...NEW_CREDENTIAL_REFRESH,
        ...schedulePatch(schedule),
        granted_scopes: outcome.grantedScopes,
      },
    );
    const updated = await updateIntegrationRow(trx, current.id, patch);
    await recordEvent(trx, actor, current.id, 'integration.connected', 'SUCCEEDED', {
      provider: definition.key,
      authKind: input.authKind,
      reconnected: Boolean(existing),
    });
    const origin = originOf(actor);
    await appendIntegrationEvent(
      trx,
      origin,
      updated,
      existing ? 'integration.reconnected' : 'integration.connected',
      connectionOf(updated),
    );
    await appendTransitions(trx, origin, current, updated, checkOf(outcome));
    return updated;
  });
  return { integration: toIntegration(row), authorizationUrl: null };
}
