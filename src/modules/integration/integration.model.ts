import type { AuthKind, IntegrationHealth, IntegrationRow, IntegrationStatus, SyncStatus } from '../../db/database.js';

export interface HealthSummary {
  checkedAt: Date;
  ok: boolean;
  latencyMs: number | null;
  httpStatus: number | null;
  message: string | null;
}

export interface WebhookSettings {
  url: string | null;
  events: string[];
  enabled: boolean;
  /** When the signing secret was last set; the secret itself never leaves the vault. */
  secretRotatedAt: Date | null;
}

export interface SyncState {
  status: SyncStatus;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Resources the run listed; null until it succeeded. */
  itemCount: number | null;
  error: string | null;
}

/** Who an integration was connected for, through a connect session (the product's own user id and labels). */
export interface EndUser {
  id: string;
  displayName: string | null;
  email: string | null;
}

/** An organization's connection to one provider account, as services and the API see it. */
export interface Integration {
  id: string;
  organizationId: string;
  provider: string;
  displayName: string;
  environment: string | null;
  authKind: AuthKind;
  status: IntegrationStatus;
  statusReason: string | null;
  health: IntegrationHealth;
  lastHealthCheck: HealthSummary | null;
  requestedScopes: string[];
  grantedScopes: string[] | null;
  account: Record<string, unknown> | null;
  config: Record<string, unknown>;
  webhook: WebhookSettings;
  lastSync: SyncState | null;
  hasCredentials: boolean;
  credentialExpiresAt: Date | null;
  /** When the background engine next probes it; null when nothing is scheduled. */
  nextHealthCheckAt: Date | null;
  /** When the background engine next refreshes its OAuth2 tokens ahead of expiry; null when it will not. */
  nextRefreshAt: Date | null;
  /** When the background engine next syncs its inventory; null when it will not. */
  nextSyncAt: Date | null;
  /** Its own time between scheduled probes; null: the deployment's. */
  healthCheckIntervalSeconds: number | null;
  /** Whether scheduled probes are paused. */
  healthChecksPaused: boolean;
  /** The end user a connect session connected it for; null when an API key connected it. */
  endUser: EndUser | null;
  revokedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  rowVersion: number;
}

/** The one place an integration row becomes a domain object. */
export function toIntegration(row: IntegrationRow): Integration {
  return {
    id: row.id,
    organizationId: row.organization_id,
    provider: row.provider,
    displayName: row.display_name,
    environment: row.environment,
    authKind: row.auth_kind,
    status: row.status,
    statusReason: row.status_reason,
    health: row.health,
    lastHealthCheck:
      row.last_check_at == null
        ? null
        : {
            checkedAt: row.last_check_at,
            ok: row.last_check_ok ?? false,
            latencyMs: row.last_check_latency_ms,
            httpStatus: row.last_check_http_status,
            message: row.last_check_message,
          },
    requestedScopes: row.requested_scopes,
    grantedScopes: row.granted_scopes,
    account: row.account,
    config: row.config,
    webhook: {
      url: row.webhook_url,
      events: row.webhook_events,
      enabled: row.webhook_enabled,
      secretRotatedAt: row.webhook_secret_rotated_at,
    },
    lastSync:
      row.last_sync_status == null
        ? null
        : {
            status: row.last_sync_status,
            startedAt: row.last_sync_started_at,
            finishedAt: row.last_sync_finished_at,
            itemCount: row.last_sync_item_count ?? null,
            error: row.last_sync_error,
          },
    hasCredentials: row.secret_ciphertext !== null,
    credentialExpiresAt: row.credential_expires_at,
    nextHealthCheckAt: row.next_health_check_at ?? null,
    nextRefreshAt: row.next_refresh_at ?? null,
    nextSyncAt: row.next_sync_at ?? null,
    healthCheckIntervalSeconds: row.health_check_interval_seconds ?? null,
    healthChecksPaused: row.health_checks_paused ?? false,
    endUser: row.end_user_id
      ? { id: row.end_user_id, displayName: row.end_user_display_name ?? null, email: row.end_user_email ?? null }
      : null,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    rowVersion: row.row_version,
  };
}

/** Scopes the provider was asked for but did not grant; empty while the grant is unknown. */
export function missingScopes(integration: Integration): string[] {
  if (integration.grantedScopes === null) return [];
  const granted = new Set(integration.grantedScopes);
  return integration.requestedScopes.filter((scope) => !granted.has(scope));
}
