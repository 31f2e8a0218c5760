import type { Transaction } from 'kysely';
import type { Database } from '../../db/database.js';

/*
 * Events: what changed an integration, an API key or a webhook endpoint, as one model for the outbox,
 * the audit log, subscriptions and webhooks.
 *
 * Writing. `appendEvent(trx, input)` (event.repository.ts) inserts the event in the caller's transaction:
 * a committed change always has its event, a rolled-back one never does. `data` carries names, codes,
 * states and times only; `appendEvent` refuses data with a secret-looking member (event-data.ts).
 *
 * Publishing. Commit order is not the order of writing, so one publisher at a time (the engine's
 * publication loop, src/jobs/event-publisher.ts, in every worker process, serialized by a lock on the one
 * `event_publication` row) gives the events that have become visible consecutive `position`s, in one
 * transaction with no gaps, and in that same transaction calls every registered `EventConsumer` with
 * them. If a consumer throws, the publication rolls back and is retried later with the same events: a
 * consumer sees each event at least once, in position order, and what it writes commits with the
 * positions. After the commit, subscribers are told the last position (PostgreSQL NOTIFY on
 * `igw_events_published`, or Redis when REDIS_URL is set) and read the events by position.
 *
 * Consuming. A consumer is registered in `eventConsumers` (src/jobs/event-consumers.ts), which the engine
 * calls once per process with its collaborators. A consumer should do only database work in `consume`
 * (insert rows, queue jobs with `graphile_worker.add_job` in the same transaction); calls to the outside
 * belong in the jobs it queues. It runs for every event of every organization: filter by `type` and
 * `organizationId` yourself.
 *
 *   const consumer: EventConsumer = {
 *     name: 'webhook-deliveries',
 *     async consume(trx, events) {
 *       for (const event of events) ... insert into webhook_deliveries ... select graphile_worker.add_job(...)
 *     },
 *   };
 */

/** Every event type, as webhooks, the REST API and filters name it. */
export const EVENT_TYPES = [
  'integration.connected',
  'integration.reconnected',
  'integration.status_changed',
  'integration.health_changed',
  'integration.credentials_refreshed',
  'integration.refresh_failed',
  'integration.needs_reauth',
  'integration.revoked',
  'integration.sync_completed',
  'integration.sync_failed',
  'api_key.created',
  'api_key.revoked',
  'webhook_endpoint.disabled',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * Who caused an event. API_KEY: a request authenticated by an API key. SCHEDULER: the background engine.
 * OAUTH_CALLBACK: a provider's redirect back to the gateway, finishing an authorization a key started.
 * OPERATOR: the command line (`keys create`, `keys revoke`). USER: an end user signed in without an API
 * key (OIDC), or a connect session, named by `subject`. SYSTEM: the gateway itself (a webhook endpoint
 * disabled after failing for days).
 */
export const ACTOR_KINDS = ['API_KEY', 'SCHEDULER', 'OAUTH_CALLBACK', 'OPERATOR', 'USER', 'SYSTEM'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

export interface EventActor {
  kind: ActorKind;
  /** What the audit log shows: the API key's visible prefix, `scheduler`, `oauth-callback`, `cli`, a user's name. */
  label: string;
  /** The API key that acted: API_KEY, and OAUTH_CALLBACK (the key that started the authorization). */
  apiKeyId: string | null;
  /** The end user's stable subject (USER), such as an OIDC `sub`. */
  subject: string | null;
}

/** What an event is about: a node type and its row id; stored as the global ID. */
export interface EventSubject {
  type: 'Integration' | 'ApiKey' | 'WebhookEndpoint';
  id: string;
}

/** A health probe's result, as health events carry it. */
export interface EventHealthCheck {
  ok: boolean;
  httpStatus: number | null;
  latencyMs: number | null;
  errorCode: string | null;
  message: string | null;
}

type Status = 'PENDING_AUTHORIZATION' | 'ACTIVE' | 'NEEDS_REAUTH' | 'ERROR' | 'REVOKED';
type Health = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY' | 'UNKNOWN';

/** An integration as connected: what `integration.connected` and `integration.reconnected` carry. */
export interface EventConnection {
  provider: string;
  authKind: string;
  displayName: string;
  environment: string | null;
  /** The scopes granted (or, before the provider said, requested). */
  scopes: string[];
  status: Status;
  health: Health;
}

/** The `data` of each event type. Members are JSON: strings, numbers, booleans, null, arrays, objects. */
export interface EventDataByType {
  'integration.connected': EventConnection;
  'integration.reconnected': EventConnection;
  'integration.status_changed': { oldStatus: Status; newStatus: Status; reason: string | null };
  'integration.health_changed': { oldHealth: Health; newHealth: Health; check: EventHealthCheck };
  /** OAUTH2_REFRESH: new tokens from the refresh token; REPLACED: a new credential given by a caller. */
  'integration.credentials_refreshed': { method: 'OAUTH2_REFRESH' | 'REPLACED'; expiresAt: string | null; scopes: string[] | null };
  /** `permanent`: the provider refused the grant (reconnect); otherwise it may pass and is retried. */
  'integration.refresh_failed': { code: string; message: string; permanent: boolean };
  'integration.needs_reauth': { reason: string | null };
  'integration.revoked': { revokedAtProvider: boolean; providerMessage: string | null };
  'integration.sync_completed': { syncRunId: string; trigger: string; itemCount: number; truncated: boolean };
  'integration.sync_failed': { syncRunId: string; trigger: string; code: string | null; message: string | null };
  'api_key.created': { name: string; role: string; prefix: string };
  'api_key.revoked': { name: string; role: string; prefix: string };
  'webhook_endpoint.disabled': { reason: string; url: string } & Record<string, unknown>;
}

/** An event to append. */
export interface EventInput<T extends EventType = EventType> {
  organizationId: string;
  type: T;
  subject: EventSubject;
  /** The integration the event concerns (set from the subject when it is one). */
  integrationId?: string | null;
  /** The API key the event concerns (set from the subject when it is one). */
  apiKeyId?: string | null;
  actor: EventActor;
  requestId: string | null;
  data: EventDataByType[T];
  /** When it happened; the transaction's start when absent. */
  occurredAt?: Date;
}

/** An event as stored; `position` is null until it is published. */
export interface StoredEvent {
  /** `evt_` and 32 random hex digits; also the webhook-id of its deliveries. */
  id: string;
  organizationId: string;
  type: EventType;
  /** The global ID of the subject. */
  subjectId: string;
  integrationId: string | null;
  apiKeyId: string | null;
  actor: EventActor;
  requestId: string | null;
  data: Record<string, unknown>;
  occurredAt: Date;
  /** The order of writing (a tie-breaker among events of one time). */
  seq: number;
  position: number | null;
  publishedAt: Date | null;
}

/** An event that has its place in the publication order. */
export interface PublishedEvent extends StoredEvent {
  position: number;
  publishedAt: Date;
}

/** Called by the publisher inside each publication transaction, with the events it publishes, in position order. */
export interface EventConsumer {
  /** Names the consumer in logs and metrics. */
  readonly name: string;
  consume(trx: Transaction<Database>, events: readonly PublishedEvent[]): Promise<void>;
}

/** The channel that wakes the publisher (a trigger on `events` notifies it at commit). */
export const EVENTS_APPENDED_CHANNEL = 'igw_events_appended';
/** The channel subscribers hear the last published position on. */
export const EVENTS_PUBLISHED_CHANNEL = 'igw_events_published';
