import { isoString } from '../../db/timestamps.js';
import { encodeGlobalID } from '../../ids.js';
import type { HealthCheck } from '../../modules/health-check/health-check.repository.js';
import { type Integration, missingScopes } from '../../modules/integration/integration.model.js';
import type { Resource, SyncRun } from '../../modules/inventory/inventory.model.js';
import type { RestHealthCheck, RestIntegration, RestResource, RestSyncRun } from './rest.schemas.js';

// Domain objects as the REST API shows them: the one place where camelCase becomes snake_case, enums
// become lowercase and row ids become global IDs.

const iso = (date: Date | null): string | null => (date === null ? null : isoString(date));
const lower = <T extends string>(value: T) => value.toLowerCase() as Lowercase<T>;

/** An integration as the REST API returns it. */
export function presentIntegration(integration: Integration): RestIntegration {
  const { lastHealthCheck: check, lastSync: sync, webhook } = integration;
  return {
    id: encodeGlobalID('Integration', integration.id),
    provider: integration.provider,
    display_name: integration.displayName,
    environment: integration.environment,
    auth_kind: lower(integration.authKind),
    status: lower(integration.status),
    status_reason: integration.statusReason,
    health: lower(integration.health),
    last_health_check: check
      ? {
          checked_at: isoString(check.checkedAt),
          ok: check.ok,
          latency_ms: check.latencyMs,
          http_status: check.httpStatus,
          message: check.message,
        }
      : null,
    scopes: { requested: integration.requestedScopes, granted: integration.grantedScopes, missing: missingScopes(integration) },
    last_sync: sync
      ? {
          status: lower(sync.status),
          started_at: iso(sync.startedAt),
          finished_at: iso(sync.finishedAt),
          item_count: sync.itemCount,
          error: sync.error,
        }
      : null,
    webhook: { url: webhook.url, events: webhook.events, enabled: webhook.enabled, secret_rotated_at: iso(webhook.secretRotatedAt) },
    account: integration.account,
    config: integration.config,
    has_credentials: integration.hasCredentials,
    credential_expires_at: iso(integration.credentialExpiresAt),
    next_health_check_at: iso(integration.nextHealthCheckAt),
    next_refresh_at: iso(integration.nextRefreshAt),
    next_sync_at: iso(integration.nextSyncAt),
    health_check_interval_seconds: integration.healthCheckIntervalSeconds,
    health_checks_paused: integration.healthChecksPaused,
    end_user: integration.endUser
      ? { id: integration.endUser.id, display_name: integration.endUser.displayName, email: integration.endUser.email }
      : null,
    revoked_at: iso(integration.revokedAt),
    created_at: isoString(integration.createdAt),
    updated_at: isoString(integration.updatedAt),
  };
}

/** A recorded health check as the REST API returns it. */
export function presentHealthCheck(check: HealthCheck): RestHealthCheck {
  return {
    id: encodeGlobalID('HealthCheck', check.id),
    integration_id: encodeGlobalID('Integration', check.integrationId),
    checked_at: isoString(check.checkedAt),
    ok: check.ok,
    http_status: check.httpStatus,
    latency_ms: check.latencyMs,
    error_code: check.errorCode,
    message: check.message,
    granted_scopes: check.grantedScopes,
    missing_scopes: check.missingScopes,
  };
}

/** A resource of an integration's inventory as the REST API returns it. */
export function presentResource(resource: Resource): RestResource {
  return {
    kind: resource.kind,
    external_id: resource.externalId,
    name: resource.name,
    url: resource.url,
    metadata: resource.metadata,
    synced_at: isoString(resource.syncedAt),
  };
}

/** An inventory sync run as the REST API returns it. */
export function presentSyncRun(run: SyncRun): RestSyncRun {
  return {
    id: encodeGlobalID('SyncRun', run.id),
    status: lower(run.status),
    trigger: lower(run.trigger),
    queued_at: isoString(run.queuedAt),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    item_count: run.itemCount,
    truncated: run.truncated,
    error_code: run.errorCode,
    error: run.error,
  };
}
