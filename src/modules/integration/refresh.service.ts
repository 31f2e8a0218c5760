import type { Kysely } from 'kysely';
import { credentialOrigins, runProbe } from '../../connectors/probe.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import type { GatewayServices } from '../../services.js';
import {
  cleanSchedule,
  cleanWebhook,
  type CredentialsInput,
  credentialFromInput,
  type ScheduleInput,
  schedulePatch,
  type WebhookInput,
} from './integration.input.js';
import { boundOrigins, connectorTarget, openBundle, sealBundle } from './credential-bundle.js';
import { probeFailure, recordProbe } from './health-recording.js';
import { findResumableEvent } from './integration-event.repository.js';
import { type MutationActor, originOf, recordEvent } from './integration.audit.js';
import { appendIntegrationEvent, appendTransitions, checkOf } from './integration.events.js';
import { findIntegrationRow, lockIntegrationRow, updateIntegrationRow } from './integration.repository.js';
import { type Integration, toIntegration } from './integration.model.js';
import { NEW_CREDENTIAL_REFRESH } from './refresh-record.js';
import { refreshWithLock } from './tokens.service.js';
import { applyIntegrationWebhook } from '../webhook/webhook-endpoint.service.js';
import { generateSigningSecret } from '../webhook/webhook-secrets.js';

/** An enabled webhook needs somewhere to deliver; checked before any provider call and again under the lock. */
function assertWebhookComplete(row: Pick<IntegrationRow, 'webhook_enabled' | 'webhook_url'>, webhook: WebhookInput): void {
  const enabled = webhook.enabled ?? row.webhook_enabled;
  const url = webhook.url !== undefined ? webhook.url : row.webhook_url;
  if (enabled && !url) throw new ServiceError('VALIDATION', 'An enabled webhook needs a URL.', ['webhook', 'url']);
}

export interface RefreshInput extends ScheduleInput {
  id: string;
  refreshTokens?: boolean | null;
  credentials?: CredentialsInput | null;
  webhook?: WebhookInput | null;
}

export interface RefreshResult {
  integration: Integration;
  /** The new webhook signing secret, when one was rotated: returned this once. */
  webhookSigningSecret: string | null;
}

/**
 * Refreshes an integration: OAuth2 tokens now, a replacement API token or basic credential (probed
 * first), the webhook configuration, and the schedule of its health probes. All validation happens
 * before any provider call; the credential, webhook and schedule changes commit together.
 */
export async function refreshIntegration(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  input: RefreshInput,
  options: { production: boolean },
): Promise<RefreshResult> {
  const organizationId = actor.viewer.organization.id;
  const schedule = cleanSchedule(input);
  const scheduled = Object.keys(schedule).length > 0;
  if (!input.refreshTokens && !input.credentials && !input.webhook && !scheduled) {
    throw new ServiceError(
      'VALIDATION',
      'Nothing to refresh: give refreshTokens, credentials, webhook, healthCheckIntervalSeconds or healthChecksPaused.',
      [],
    );
  }
  const row = await findIntegrationRow(db, organizationId, input.id);
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  if (row.status === 'REVOKED') throw new ServiceError('ALREADY_REVOKED', 'The integration is revoked.', ['id']);
  if (input.refreshTokens && input.credentials)
    throw new ServiceError('VALIDATION', 'Either refresh OAuth2 tokens or replace the credential, not both.', ['credentials']);
  if (input.refreshTokens && row.auth_kind !== 'OAUTH2')
    throw new ServiceError('VALIDATION', 'Only OAuth2 integrations have tokens to refresh.', ['refreshTokens']);
  const credential = input.credentials ? credentialFromInput(row.auth_kind, input.credentials, ['credentials']) : null;
  const webhook = input.webhook ? cleanWebhook(input.webhook, options.production) : null;
  const target = connectorTarget(services, row);
  if (webhook) assertWebhookComplete(row, webhook);

  if (input.refreshTokens) {
    // A retry of a request that already refreshed (same Idempotency-Key) must not call the provider again.
    const earlier = actor.resume
      ? await findResumableEvent(db, organizationId, ['integration.tokens_refreshed'], actor.resume)
      : undefined;
    if (earlier?.integration_id !== row.id) await refreshWithLock(services, db, actor, row.id, { kind: 'force', since: actor.startedAt });
  }
  // A re-run of a request whose credential or webhook change committed (same Idempotency-Key, its answer
  // lost with the process) returns the integration as it is, without a second probe or a second
  // rotation. A signing secret rotated by that request is returned again: its answer never arrived.
  if ((credential || webhook || scheduled) && actor.resume) {
    const earlier = await findResumableEvent(
      db,
      organizationId,
      ['integration.credentials_replaced', 'integration.webhook_updated', 'integration.schedule_updated'],
      actor.resume,
    );
    if (earlier?.integration_id === row.id) {
      const current = (await findIntegrationRow(db, organizationId, row.id)) ?? row;
      // Same key, same request: it rotated the secret if this one asks to (both changes commit together).
      const webhookSigningSecret = webhook?.rotateSecret ? openBundle(services, current).webhookSecret : null;
      return { integration: toIntegration(current), webhookSigningSecret };
    }
  }
  // A replacement credential is bound to the origins it is probed against: the integration's own, which no refresh changes.
  const origins = credential ? credentialOrigins(target, row.auth_kind) : null;
  const outcome = credential && origins ? await runProbe(target, credential, services.http, services.probeTimeoutMs, origins) : null;
  if (outcome && !outcome.ok) {
    await recordEvent(db, actor, row.id, 'integration.credentials_replace_failed', 'FAILED', {
      code: outcome.errorCode,
      httpStatus: outcome.httpStatus,
    });
    throw probeFailure(outcome, ['credentials']);
  }
  if (!credential && !webhook && !scheduled)
    return { integration: toIntegration((await findIntegrationRow(db, organizationId, row.id)) ?? row), webhookSigningSecret: null };

  // A webhook that is enabled without ever having had a secret gets one (returned once), so that every delivery is signed.
  const needsSecret = Boolean(webhook && (webhook.enabled ?? row.webhook_enabled) && !openBundle(services, row).webhookSecret);
  const webhookSigningSecret = webhook?.rotateSecret || needsSecret ? generateSigningSecret() : null;
  let replacedSecret: string | null = null;
  const updated = await commitWithLiveKey(db, actor, async (trx) => {
    const current = await lockIntegrationRow(trx, organizationId, row.id);
    if (!current || current.status === 'REVOKED')
      throw new ServiceError('ALREADY_REVOKED', 'The integration was revoked meanwhile.', ['id']);
    let patch: IntegrationUpdate = {};
    if (credential || webhookSigningSecret) {
      const bundle = openBundle(services, current);
      if (webhookSigningSecret) replacedSecret = bundle.webhookSecret;
      const kept = credential ?? bundle.credential;
      patch = sealBundle(
        services,
        current,
        { credential: kept, webhookSecret: webhookSigningSecret ?? bundle.webhookSecret },
        // A credential that carries over keeps its bound origins.
        origins ?? (kept ? boundOrigins(services, current) : null),
      );
    }
    if (webhook) {
      patch = {
        ...patch,
        ...(webhook.url !== undefined ? { webhook_url: webhook.url } : {}),
        ...(webhook.events != null ? { webhook_events: [...webhook.events] } : {}),
        ...(webhook.enabled != null ? { webhook_enabled: webhook.enabled } : {}),
        ...(webhookSigningSecret ? { webhook_secret_rotated_at: new Date() } : {}),
      };
      assertWebhookComplete(current, webhook);
    }
    if (scheduled) patch = { ...patch, ...schedulePatch(schedule) };
    // A replacement credential starts afresh: nothing of the replaced one's refreshes holds for it.
    if (outcome)
      patch = (await recordProbe(trx, { ...current, ...NEW_CREDENTIAL_REFRESH }, outcome, target, { ...patch, ...NEW_CREDENTIAL_REFRESH }))
        .patch;
    const saved = await updateIntegrationRow(trx, current.id, patch);
    if (credential) {
      await recordEvent(trx, actor, current.id, 'integration.credentials_replaced', 'SUCCEEDED', { authKind: current.auth_kind });
      await appendIntegrationEvent(trx, originOf(actor), saved, 'integration.credentials_refreshed', {
        method: 'REPLACED',
        expiresAt: saved.credential_expires_at?.toISOString() ?? null,
        scopes: saved.granted_scopes,
      });
    }
    await appendTransitions(trx, originOf(actor), current, saved, outcome ? checkOf(outcome) : null);
    if (webhook && (saved.webhook_url !== null || current.webhook_url !== null)) {
      await applyIntegrationWebhook(trx, services, saved, {
        wasEnabled: current.webhook_enabled,
        enabledSet: webhook.enabled != null,
        replacedSecret,
      });
    }
    if (webhook) {
      await recordEvent(trx, actor, current.id, 'integration.webhook_updated', 'SUCCEEDED', {
        url: saved.webhook_url !== null,
        events: saved.webhook_events.length,
        enabled: saved.webhook_enabled,
        secretRotated: Boolean(webhookSigningSecret),
      });
    }
    if (scheduled) {
      await recordEvent(trx, actor, current.id, 'integration.schedule_updated', 'SUCCEEDED', {
        healthCheckIntervalSeconds: saved.health_check_interval_seconds,
        healthChecksPaused: saved.health_checks_paused,
      });
    }
    return saved;
  });
  return { integration: toIntegration(updated), webhookSigningSecret };
}
