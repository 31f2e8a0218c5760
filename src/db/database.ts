import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string, string>;

export type Role = 'VIEWER' | 'EDITOR' | 'ADMIN';
export type AuthKind = 'OAUTH2' | 'API_TOKEN' | 'BASIC';
export type IntegrationStatus = 'PENDING_AUTHORIZATION' | 'ACTIVE' | 'NEEDS_REAUTH' | 'ERROR' | 'REVOKED';
export type IntegrationHealth = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY' | 'UNKNOWN';
export type SyncStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
/** What queued an inventory sync: the engine's schedule, or a request (`syncIntegration`). */
export type SyncTrigger = 'SCHEDULE' | 'REQUEST';

export interface OrganizationsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: Generated<string>;
  organization_id: string;
  name: string;
  role: Role;
  prefix: string;
  key_hash: string;
  created_at: CreatedAt;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface IntegrationsTable {
  id: Generated<string>;
  organization_id: string;
  provider: string;
  display_name: string;
  environment: string | null;
  auth_kind: AuthKind;
  status: IntegrationStatus;
  status_reason: string | null;
  health: ColumnType<IntegrationHealth, IntegrationHealth | undefined, IntegrationHealth>;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  last_check_at: NullableTimestamp;
  last_check_ok: boolean | null;
  last_check_latency_ms: number | null;
  last_check_http_status: number | null;
  last_check_message: string | null;
  requested_scopes: ColumnType<string[], string[] | undefined, string[]>;
  granted_scopes: string[] | null;
  account: Json<Record<string, unknown> | null> | null;
  config: ColumnType<Record<string, unknown>, string | undefined, string>;
  webhook_url: string | null;
  webhook_events: ColumnType<string[], string[] | undefined, string[]>;
  webhook_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  webhook_secret_rotated_at: NullableTimestamp;
  last_sync_status: SyncStatus | null;
  last_sync_started_at: NullableTimestamp;
  last_sync_finished_at: NullableTimestamp;
  last_sync_error: string | null;
  /** The latest inventory sync run, and how many resources it listed; null before the first. */
  last_sync_run_id: string | null;
  last_sync_item_count: number | null;
  /** When the background engine next syncs the inventory; null when it will not (no inventory, no credential). */
  next_sync_at: NullableTimestamp;
  secret_ciphertext: string | null;
  secret_key_id: string | null;
  secret_version: ColumnType<number, number | undefined, number>;
  /** Where the sealed credential may be sent (JSON origins), covered by its associated data; null when sealed before binding. */
  secret_origins: string | null;
  /**
   * When the OAuth2 access token expires: the provider's `expires_in`, or the lifetime its connector
   * documents; null when neither says (the token is then refreshed by age).
   */
  credential_expires_at: NullableTimestamp;
  /** When the stored OAuth2 tokens were obtained (authorized or last refreshed); null for other credentials. */
  credential_obtained_at: NullableTimestamp;
  /** Whether the stored credential carries an OAuth2 refresh token, so that the engine can refresh it. */
  credential_refreshable: ColumnType<boolean, boolean | undefined, boolean>;
  revoked_at: NullableTimestamp;
  revoked_by_key_id: string | null;
  /** The signed-in user (OIDC `sub`) who revoked it, when no API key did. */
  revoked_by_subject: ColumnType<string | null, string | null | undefined, string | null>;
  /** The token refresh in flight: when it started, its attempt and its request; null when none is. */
  refresh_started_at: NullableTimestamp;
  refresh_attempt_id: string | null;
  refresh_request_id: string | null;
  /**
   * The attempt calling the provider with the credential (a token refresh or a revocation) and until when;
   * null when none is. Held without a database connection; past its expiry it may be taken over.
   */
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
  /** When the background engine next probes the integration; null when nothing is scheduled. */
  next_health_check_at: NullableTimestamp;
  /** When the background engine next refreshes the OAuth2 tokens ahead of expiry; null when it will not. */
  next_refresh_at: NullableTimestamp;
  /** Seconds between the integration's scheduled probes (60 to 86400); null: the deployment's `HEALTH_CHECK_INTERVAL_SECONDS`. */
  health_check_interval_seconds: number | null;
  /** Scheduled probes are paused: nothing is scheduled (`next_health_check_at` null); tests on demand still run. */
  health_checks_paused: ColumnType<boolean, boolean | undefined, boolean>;
  /**
   * When and why the provider refused the integration's refresh token; null when it did not, or since a
   * refresh succeeded or a new credential replaced it. While set, the integration stays NEEDS_REAUTH.
   */
  refresh_refused_at: NullableTimestamp;
  refresh_refused_reason: string | null;
  /** The end user a connect session connected it for; null when an API key connected it. */
  end_user_id: ColumnType<string | null, string | null | undefined, string | null>;
  end_user_display_name: ColumnType<string | null, string | null | undefined, string | null>;
  end_user_email: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  row_version: ColumnType<number, number | undefined, number>;
}

export interface IntegrationHealthChecksTable {
  id: Generated<string>;
  organization_id: string;
  integration_id: string;
  checked_at: ColumnType<Date, Date | string | undefined, never>;
  ok: boolean;
  http_status: number | null;
  latency_ms: number | null;
  error_code: string | null;
  message: string | null;
  identity: Json<Record<string, unknown> | null> | null;
  granted_scopes: string[] | null;
  missing_scopes: ColumnType<string[], string[] | undefined, never>;
}

export interface IntegrationEventsTable {
  id: Generated<string>;
  organization_id: string;
  integration_id: string | null;
  actor_key_id: string | null;
  /** The signed-in user (OIDC `sub`) who acted, when no API key did. */
  actor_subject: ColumnType<string | null, string | null | undefined, never>;
  type: string;
  outcome: string;
  request_id: string | null;
  detail: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: CreatedAt;
}

/** The outbox and audit log (src/modules/events/event.model.ts): one row per change, written with it. */
export interface EventsTable {
  id: string;
  /** The order of writing, a tie-breaker among events of the same time; not the order of commit. */
  seq: Generated<number>;
  organization_id: string;
  type: string;
  /** The global ID of what changed (an integration, an API key, a webhook endpoint). */
  subject_id: string;
  integration_id: string | null;
  api_key_id: string | null;
  actor_kind: string;
  actor_label: string;
  actor_api_key_id: string | null;
  actor_subject: string | null;
  request_id: string | null;
  data: ColumnType<Record<string, unknown>, string | undefined, never>;
  occurred_at: CreatedAt;
  /** Given by the publisher in commit order, without gaps; null until published. */
  position: ColumnType<number | null, never, number>;
  published_at: ColumnType<Date | null, never, Date | string>;
}

/** A live subscription held open by a principal (an API key), renewed while it lasts. */
export interface EventSubscriptionsTable {
  id: Generated<string>;
  organization_id: string;
  principal: string;
  started_at: CreatedAt;
  expires_at: Timestamp;
}

/** The last publication position given (one row). */
export interface EventPublicationTable {
  id: ColumnType<boolean, never, never>;
  last_position: ColumnType<number, never, number>;
  /** The highest position the retention purge deleted (0: none yet). */
  purged_through_position: ColumnType<number, never, number>;
}

/** An integration's own schedule of health probes, as columns; an absent column is left as it is. */
export interface ScheduleSettings {
  health_check_interval_seconds?: number | null;
  health_checks_paused?: boolean;
}

/** One resource an integration's credential reaches, as its latest successful sync listed it. */
export interface IntegrationResourcesTable {
  id: Generated<string>;
  organization_id: string;
  integration_id: string;
  kind: string;
  external_id: string;
  name: string;
  url: string | null;
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  synced_at: CreatedAt;
}

/** One inventory sync of an integration, from queued to finished. */
export interface IntegrationSyncRunsTable {
  id: Generated<string>;
  organization_id: string;
  integration_id: string;
  status: SyncStatus;
  trigger: SyncTrigger;
  queued_at: CreatedAt;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  item_count: number | null;
  /** Stopped at `SYNC_MAX_ITEMS`: the provider listed more than was stored. */
  truncated: ColumnType<boolean, boolean | undefined, boolean>;
  error_code: string | null;
  error: string | null;
}

export interface OAuthStatesTable {
  state_hash: string;
  organization_id: string;
  integration_id: string;
  actor_key_id: string | null;
  /** The signed-in user (OIDC `sub`) who started the authorization, when no API key did. */
  actor_subject: ColumnType<string | null, string | null | undefined, never>;
  /** The PKCE verifier: useless without the one-time code the provider sends to the callback. */
  code_verifier: string | null;
  redirect_uri: string;
  return_url: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  /** The display name, environment and config the callback applies with the tokens; config null: none held. */
  display_name: string | null;
  environment: string | null;
  config: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  /** The schedule settings a reconnection asked for (columns of `integrations`), applied with the tokens; null: none. */
  schedule: ColumnType<ScheduleSettings | null, string | null | undefined, string | null>;
  /** The connect session the authorization was started from, which the callback spends; null: an API key's. */
  connect_session_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

/** A connect session: a short-lived, single-purpose token for the hosted connect page (src/modules/connect-session/). */
export interface ConnectSessionsTable {
  id: Generated<string>;
  organization_id: string;
  /** The EDITOR key that issued it; revoking the key ends the session. */
  created_by_key_id: string;
  /** SHA-256 (hex) of the token; the token itself is shown once. */
  token_hash: string;
  end_user_id: string;
  end_user_display_name: string | null;
  end_user_email: string | null;
  /** Null: every provider (or auth kind) of the catalog. */
  allowed_providers: string[] | null;
  allowed_auth_kinds: AuthKind[] | null;
  /** Exact origins the result is posted to (`window.opener.postMessage`). */
  allowed_origins: ColumnType<string[], string[] | undefined, string[]>;
  environment: string | null;
  return_url: string | null;
  /** The integration reconnected (`reconnect`), or the one the session created. */
  integration_id: string | null;
  reconnect: ColumnType<boolean, boolean | undefined, boolean>;
  /** Connection attempts made through the hosted page. */
  attempts: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  expires_at: Timestamp;
  /** When a connection succeeded through it; a spent session opens nothing. */
  spent_at: NullableTimestamp;
}

/** The typed schema that every repository queries; kept in step with `migrations/`. */
export interface Database {
  connect_sessions: ConnectSessionsTable;
  oauth_states: OAuthStatesTable;
  rate_limit_buckets: RateLimitBucketsTable;
  idempotency_keys: IdempotencyKeysTable;
  organizations: OrganizationsTable;
  api_keys: ApiKeysTable;
  integrations: IntegrationsTable;
  integration_health_checks: IntegrationHealthChecksTable;
  integration_resources: IntegrationResourcesTable;
  integration_sync_runs: IntegrationSyncRunsTable;
  integration_events: IntegrationEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptsTable;
  events: EventsTable;
  event_publication: EventPublicationTable;
  event_subscriptions: EventSubscriptionsTable;
}

export type OrganizationRow = Selectable<OrganizationsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type IntegrationRow = Selectable<IntegrationsTable>;
export type NewIntegrationRow = Insertable<IntegrationsTable>;
export type IntegrationUpdate = Updateable<IntegrationsTable>;
export type HealthCheckRow = Selectable<IntegrationHealthChecksTable>;
export type ResourceRow = Selectable<IntegrationResourcesTable>;
export type SyncRunRow = Selectable<IntegrationSyncRunsTable>;
export type NewHealthCheckRow = Insertable<IntegrationHealthChecksTable>;
export type NewIntegrationEventRow = Insertable<IntegrationEventsTable>;
export type OAuthStateRow = Selectable<OAuthStatesTable>;
export type ConnectSessionRow = Selectable<ConnectSessionsTable>;
export type EventRow = Selectable<EventsTable>;
export type NewEventRow = Insertable<EventsTable>;

/** A rate-limit budget's points spent in its current window (see `src/http/limits/rate-limit-store.ts`). */
export interface RateLimitBucketsTable {
  key: string;
  points: number;
  window_ends_at: Timestamp;
}

export type IdempotencyState = 'IN_PROGRESS' | 'COMPLETED';

/** A claimed Idempotency-Key and, once its request finished, the stored response (see `src/http/idempotency/`). */
export interface IdempotencyKeysTable {
  organization_id: string;
  key: string;
  /** The API key that claimed it, or the signed-in user's id (`SignedInUser.id`, a UUID of issuer and subject). */
  api_key_id: string;
  fingerprint: string;
  state: IdempotencyState;
  lease_token: string | null;
  lease_expires_at: NullableTimestamp;
  response_status: number | null;
  response_headers: ColumnType<Record<string, string> | null, string | null | undefined, string | null>;
  /** Sealed with a key derived from the caller's API key, or the user's secret (`src/http/idempotency/response-seal.ts`). */
  response_body: string | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  completed_at: NullableTimestamp;
  expires_at: Timestamp;
}

/**
 * Where events are delivered (src/modules/webhook): an organization-wide endpoint, or an integration's
 * webhook (`integration_id`), whose url, events and enabled flag are the integration's `webhook_*` columns.
 */
export interface WebhookEndpointsTable {
  id: Generated<string>;
  organization_id: string;
  integration_id: string | null;
  url: string | null;
  description: string | null;
  event_types: ColumnType<string[], string[] | undefined, string[]>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** Sealed `{ current, previous }` signing secrets; an integration's current one is in its own bundle. */
  secret_ciphertext: string | null;
  secret_key_id: string | null;
  secret_version: ColumnType<number, number | undefined, number>;
  secret_rotated_at: NullableTimestamp;
  /** Until when the previous secret still signs beside the current one. */
  previous_secret_expires_at: NullableTimestamp;
  /** The first failed attempt since the last success; null while the endpoint answers. */
  failing_since: NullableTimestamp;
  last_success_at: NullableTimestamp;
  disabled_at: NullableTimestamp;
  disabled_reason: string | null;
  /** `<field>:<Idempotency-Key>` of the request that issued the current secret, so that its retry returns it again. */
  secret_request_key: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type WebhookDeliveryKind = 'EVENT' | 'REDELIVERY' | 'TEST';
export type WebhookDeliveryStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED';

/** One message for one endpoint, retried until delivered or given up. */
export interface WebhookDeliveriesTable {
  id: Generated<string>;
  organization_id: string;
  endpoint_id: string;
  /** The `webhook-id` header: the event's id, the same on every attempt. */
  message_id: string;
  event_id: string | null;
  event_type: string;
  kind: WebhookDeliveryKind;
  subject_key: string;
  position: ColumnType<string, string | number | bigint, string | number>;
  payload: string;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: NullableTimestamp;
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
  last_attempt_at: NullableTimestamp;
  last_http_status: number | null;
  last_error: string | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export interface WebhookDeliveryAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  attempt: number;
  attempted_at: Timestamp;
  http_status: number | null;
  latency_ms: number | null;
  error: string | null;
  /** The receiver's answer, cut at 4 KB. */
  response_body: string | null;
  next_attempt_at: NullableTimestamp;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookDeliveryAttemptRow = Selectable<WebhookDeliveryAttemptsTable>;
