import path from 'node:path';
import { z } from 'zod';
import { listConnectors } from './connectors/registry.js';
import { type ConnectorSettingsMap, connectorSettingsFromEnv } from './connectors/settings.js';
import { DEFAULT_ENGINE_CONFIG as ENGINE, type EngineConfig } from './jobs/engine.config.js';
import { ASYMMETRIC_ALGORITHMS, type OidcOptions } from './http/admission/oidc/oidc-options.js';
import { DEFAULT_VERIFIED_KEYS, type VerifiedKeysOptions } from './http/admission/verified-keys.config.js';
import { originOf } from './http/cors.js';
import { DEFAULT_LOCAL_BUDGETS } from './http/limits/local-budgets.js';
import { DEFAULT_EVENTS_CONFIG, type EventsConfig } from './modules/events/events.config.js';
import { DEFAULT_MAX_REQUEST_BODY_BYTES, DEFAULT_QUERY_LIMITS, type HardeningConfig } from './http/hardening.config.js';
import { DEFAULT_HTTP_SERVER_OPTIONS, type HttpServerOptions } from './http/node-server.js';
import { isValidAllowlist } from './outbound/address-policy.js';
import { isValidKeyEncoding } from './secrets/key-ring.js';
import {
  DEFAULT_RETRY_SCHEDULE,
  DEFAULT_WEBHOOK_CONFIG as WEBHOOKS,
  parseRetrySchedule,
  type WebhookConfig,
} from './modules/webhook/webhook.config.js';

/** A comma-separated variable as its non-blank entries. */
const commaList = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

const intFromEnv = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const boolFromEnv = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: intFromEnv(4000, 0, 65535),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_SIZE: intFromEnv(10, 1, 1000),
  DATA_DIR: z.string().min(1).default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: intFromEnv(10_000, 0, 600_000),
  // Gateway processes under node:cluster (src/cluster.ts); unset: the cores in production, else 1.
  WEB_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  // Deadlines of the HTTP server (src/http/node-server.ts): a client that stalls is answered 408 and let go.
  HTTP_HEADERS_TIMEOUT_MS: intFromEnv(DEFAULT_HTTP_SERVER_OPTIONS.headersTimeoutMs, 100, 600_000),
  HTTP_REQUEST_TIMEOUT_MS: intFromEnv(DEFAULT_HTTP_SERVER_OPTIONS.requestTimeoutMs, 100, 3_600_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: intFromEnv(DEFAULT_HTTP_SERVER_OPTIONS.keepAliveTimeoutMs, 100, 600_000),
  HTTP_MAX_CONNECTIONS_PER_CLIENT: intFromEnv(DEFAULT_HTTP_SERVER_OPTIONS.maxConnectionsPerClient, 0, 1_000_000),
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'expected an http(s) URL')
    .optional(),
  // Limits, rate limits and observability (src/http/hardening.ts). Boolean defaults depend on NODE_ENV.
  GRAPHIQL: boolFromEnv.optional(),
  INTROSPECTION: boolFromEnv.optional(),
  HIDE_SUGGESTIONS: boolFromEnv.optional(),
  MAX_REQUEST_BODY_BYTES: intFromEnv(DEFAULT_MAX_REQUEST_BODY_BYTES, 1024, 50_000_000),
  QUERY_MAX_COST: intFromEnv(DEFAULT_QUERY_LIMITS.maxCost, 1, 100_000_000),
  QUERY_MAX_DEPTH: intFromEnv(DEFAULT_QUERY_LIMITS.maxDepth, 10, 100),
  QUERY_MAX_ALIASES: intFromEnv(DEFAULT_QUERY_LIMITS.maxAliases, 0, 10_000),
  QUERY_MAX_TOKENS: intFromEnv(DEFAULT_QUERY_LIMITS.maxTokens, 100, 1_000_000),
  QUERY_MAX_DIRECTIVES: intFromEnv(DEFAULT_QUERY_LIMITS.maxDirectives, 0, 10_000),
  RATE_LIMIT_ENABLED: boolFromEnv.default(true),
  RATE_LIMIT_WINDOW_SECONDS: intFromEnv(60, 1, 86_400),
  RATE_LIMIT_API_KEY_POINTS: intFromEnv(100_000, 0, 1_000_000_000),
  RATE_LIMIT_ORGANIZATION_POINTS: intFromEnv(300_000, 0, 1_000_000_000),
  RATE_LIMIT_INTEGRATION_TESTS: intFromEnv(10, 0, 1_000_000),
  RATE_LIMIT_INTEGRATION_TEST_WINDOW_SECONDS: intFromEnv(60, 1, 86_400),
  // Budgets counted in each process and flushed to PostgreSQL in batches (src/http/limits/local-budgets.ts).
  RATE_LIMIT_FLUSH_MS: intFromEnv(DEFAULT_LOCAL_BUDGETS.flushMs, 0, 500),
  RATE_LIMIT_EXACT_POINTS: intFromEnv(DEFAULT_LOCAL_BUDGETS.exactPoints, 0, 1_000_000_000),
  // Verified API keys kept in memory (src/http/admission/verified-keys.ts).
  API_KEY_CACHE_TTL_MS: intFromEnv(DEFAULT_VERIFIED_KEYS.ttlMs, 0, 60_000),
  API_KEY_CACHE_SIZE: intFromEnv(DEFAULT_VERIFIED_KEYS.size, 1, 1_000_000),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL')
    .optional(),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  METRICS_PUBLIC: boolFromEnv.optional(),
  OTEL_TRACES_EXPORTER: z.enum(['none', 'otlp', 'console']).default('none'),
  // Secrets (src/secrets). Messages never echo the value: it is key material.
  ENCRYPTION_KEY: z.string().refine(isValidKeyEncoding, 'expected base64 of exactly 32 bytes').optional(),
  ENCRYPTION_KEYS_PREVIOUS: z
    .string()
    .refine((value) => commaList(value).every(isValidKeyEncoding), 'expected comma-separated base64 keys of exactly 32 bytes each')
    .optional(),
  // Outbound calls to providers (src/outbound). OUTBOUND_ALLOW_PRIVATE defaults by NODE_ENV.
  OUTBOUND_ALLOWLIST: z
    .string()
    .refine((value) => isValidAllowlist(commaList(value)), 'expected comma-separated hostnames, IP addresses or CIDR ranges')
    .optional(),
  OUTBOUND_ALLOW_PRIVATE: boolFromEnv.optional(),
  PROVIDER_TIMEOUT_MS: intFromEnv(10_000, 100, 600_000),
  // Idempotency-Key (src/idempotency): the retention window never drops below the promised 24 hours.
  IDEMPOTENCY_TTL_HOURS: intFromEnv(24, 24, 8760),
  IDEMPOTENCY_LEASE_SECONDS: intFromEnv(60, 5, 3600),
  // The background engine (src/jobs): scheduled probes, token refresh ahead of expiry, retention.
  WORKERS: intFromEnv(1, 0, 1),
  WORKER_CONCURRENCY: intFromEnv(ENGINE.concurrency, 1, 1000),
  WORKER_POLL_INTERVAL_MS: intFromEnv(ENGINE.pollIntervalMs, 100, 600_000),
  HEALTH_CHECK_INTERVAL_SECONDS: intFromEnv(ENGINE.healthCheckIntervalSeconds, 1, 604_800),
  HEALTH_CHECK_MAX_BACKOFF_SECONDS: intFromEnv(ENGINE.healthCheckMaxBackoffSeconds, 1, 604_800),
  TOKEN_REFRESH_AHEAD_SECONDS: intFromEnv(ENGINE.tokenRefreshAheadSeconds, 0, 86_400),
  TOKEN_REFRESH_MAX_AGE_SECONDS: intFromEnv(ENGINE.tokenRefreshMaxAgeSeconds, 1, 2_592_000),
  SYNC_INTERVAL_SECONDS: intFromEnv(ENGINE.syncIntervalSeconds, 1, 604_800),
  SYNC_MAX_ITEMS: intFromEnv(ENGINE.syncMaxItems, 1, 1_000_000),
  // Sign-in by the organization's identity provider (src/http/admission/oidc): bearer JWTs beside API keys.
  AUTH_OIDC_ISSUER: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'expected the issuer URL, exactly as its discovery document states it')
    .optional(),
  AUTH_OIDC_AUDIENCE: z.string().optional(),
  AUTH_OIDC_ORG_CLAIM: z.string().min(1).max(200).default('org'),
  AUTH_OIDC_ROLE_CLAIM: z.string().min(1).max(200).optional(),
  AUTH_OIDC_CLOCK_TOLERANCE_SECONDS: intFromEnv(30, 0, 300),
  AUTH_OIDC_ALGORITHMS: z
    .string()
    .refine(
      (value) => commaList(value).length > 0 && commaList(value).every((alg) => ASYMMETRIC_ALGORITHMS.includes(alg)),
      `expected comma-separated asymmetric algorithms of ${ASYMMETRIC_ALGORITHMS.join(', ')} (never none or HS*)`,
    )
    .optional(),
  // Exact origins whose browser pages may call /graphql and the REST API (src/http/cors.ts).
  CORS_ALLOWED_ORIGINS: z
    .string()
    .refine(
      (value) => commaList(value).every((entry) => originOf(entry) !== null),
      'expected comma-separated origins such as https://app.example.com (scheme, host, port; no path, no wildcard)',
    )
    .optional(),
  // Webhook delivery (src/modules/webhook, src/jobs/webhook-delivery.task.ts).
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .refine((value) => parseRetrySchedule(value) !== null, 'expected comma-separated durations such as 5s,5m,2h (units ms, s, m, h, d)')
    .default(DEFAULT_RETRY_SCHEDULE),
  WEBHOOK_TIMEOUT_MS: intFromEnv(WEBHOOKS.timeoutMs, 100, 60_000),
  WEBHOOK_DISABLE_AFTER_HOURS: intFromEnv(WEBHOOKS.disableAfterMs / 3_600_000, 1, 720),
  WEBHOOK_SECRET_GRACE_HOURS: intFromEnv(WEBHOOKS.secretGraceMs / 3_600_000, 0, 720),
  WEBHOOK_CONCURRENCY: intFromEnv(WEBHOOKS.concurrency, 1, 256),
  WEBHOOK_DELIVERY_RETENTION_DAYS: intFromEnv(WEBHOOKS.retentionDays, 1, 3650),
  // Events (src/modules/events): the audit log's retention, and live subscriptions per API key.
  EVENT_RETENTION_DAYS: intFromEnv(DEFAULT_EVENTS_CONFIG.retentionDays, 1, 36_500),
  SUBSCRIPTIONS_MAX_PER_KEY: intFromEnv(DEFAULT_EVENTS_CONFIG.maxSubscriptionsPerKey, 0, 100_000),
});

/** The gateway's configuration, read once from the environment at start. */
export interface Config {
  /** `production` turns off the demo organization and development conveniences. */
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** PostgreSQL connection string; when absent the embedded PGlite in `dataDir` is used. */
  databaseUrl: string | undefined;
  /** Size of the `pg` connection pool (ignored by the embedded database, which has one connection). */
  databasePoolSize: number;
  /** WEB_CONCURRENCY: gateway processes asked for; undefined when unset (src/cluster.ts decides). */
  webConcurrency: number | undefined;
  /** Folder for the embedded database and other local state, resolved to an absolute path. */
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long a SIGTERM waits for in-flight requests before closing them. */
  shutdownTimeoutMs: number;
  /** Deadlines for receiving requests, idle keep-alive, and connections per client address. */
  http: HttpServerOptions;
  /** The gateway's public origin; OAuth2 providers redirect to `${publicUrl}/oauth/callback`. */
  publicUrl: string;
  /** Per-connector OAuth2 clients and endpoint overrides, from `CONNECTOR_<PROVIDER>_<FIELD>`. */
  connectors: ConnectorSettingsMap;
  /** Query limits, rate limits, error and schema exposure, metrics and tracing. */
  hardening: HardeningConfig;
  /** How long, and how many, verified API keys are trusted without the database. */
  apiKeyCache: VerifiedKeysOptions;
  /** Base64 key that seals provider secrets; required in production, generated into `dataDir` elsewhere. */
  encryptionKey: string | undefined;
  /** Base64 keys that still open secrets sealed before a rotation. */
  encryptionKeysPrevious: string[];
  /** Hosts, IPs and CIDR ranges outbound calls may reach whatever they resolve to. */
  outboundAllowlist: string[];
  /** Whether outbound calls may reach loopback and private networks (default: outside production). */
  outboundAllowPrivate: boolean;
  /** Default deadline of a call to a provider. */
  providerTimeoutMs: number;
  /** Idempotency-Key: hours a finished key is replayed before it is purged; seconds a running claim holds. */
  idempotency: { ttlHours: number; leaseSeconds: number; purgeIntervalMs: number };
  /** Workers, schedules and intervals of the background engine. */
  engine: EngineConfig;
  /** Sign-in by the organization's identity provider (bearer JWTs); null: API keys only. */
  oidc: OidcOptions | null;
  /** Exact origins whose browser pages may call GraphQL and the REST API; empty: none. */
  corsAllowedOrigins: string[];
  /** Signing and delivery of webhooks. */
  webhooks: WebhookConfig;
  /** Event retention, fan-out to subscribers, subscriptions per key. */
  events: EventsConfig;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readConnectorSettings(env: NodeJS.ProcessEnv): ConnectorSettingsMap {
  try {
    return connectorSettingsFromEnv(env, listConnectors());
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${(error as Error).message}`);
  }
}

/** The sign-in options, when an issuer is configured: it then needs an audience, and https in production. */
function oidcOptions(values: z.infer<typeof schema>): OidcOptions | null {
  const issuer = values.AUTH_OIDC_ISSUER;
  const audience = commaList(values.AUTH_OIDC_AUDIENCE);
  if (!issuer) {
    if (audience.length > 0) throw new ConfigError('Invalid configuration: AUTH_OIDC_AUDIENCE: set without AUTH_OIDC_ISSUER');
    return null;
  }
  // Without an audience, a token the provider issued for any other application would be accepted.
  if (audience.length === 0) throw new ConfigError('Invalid configuration: AUTH_OIDC_AUDIENCE: required with AUTH_OIDC_ISSUER');
  if (values.NODE_ENV === 'production' && !issuer.startsWith('https://'))
    throw new ConfigError('Invalid configuration: AUTH_OIDC_ISSUER: must be https when NODE_ENV=production');
  return {
    issuer,
    audience,
    organizationClaim: values.AUTH_OIDC_ORG_CLAIM,
    roleClaim: values.AUTH_OIDC_ROLE_CLAIM,
    clockToleranceSeconds: values.AUTH_OIDC_CLOCK_TOLERANCE_SECONDS,
    algorithms: values.AUTH_OIDC_ALGORITHMS ? commaList(values.AUTH_OIDC_ALGORITHMS) : ASYMMETRIC_ALGORITHMS,
  };
}

/** Validates the environment once; an invalid variable stops the process with a message naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as shells and .env files commonly produce them.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const values = parsed.data;
  if (values.HTTP_HEADERS_TIMEOUT_MS > values.HTTP_REQUEST_TIMEOUT_MS) {
    // The request deadline covers its headers too: a longer headers deadline would never be reached.
    throw new ConfigError('Invalid configuration: HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  }
  if (values.NODE_ENV === 'production' && !values.ENCRYPTION_KEY) {
    // A generated key would live on one machine only; production must say which key it uses.
    throw new ConfigError('Invalid configuration: ENCRYPTION_KEY: required when NODE_ENV=production (base64 of 32 random bytes)');
  }
  return {
    oidc: oidcOptions(values),
    corsAllowedOrigins: [...new Set(commaList(values.CORS_ALLOWED_ORIGINS).map((entry) => originOf(entry) as string))],
    env: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    databaseUrl: values.DATABASE_URL,
    databasePoolSize: values.DATABASE_POOL_SIZE,
    webConcurrency: values.WEB_CONCURRENCY,
    dataDir: path.resolve(values.DATA_DIR),
    logLevel: values.LOG_LEVEL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    http: {
      headersTimeoutMs: values.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: values.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: values.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnectionsPerClient: values.HTTP_MAX_CONNECTIONS_PER_CLIENT,
    },
    publicUrl: (values.PUBLIC_URL ?? `http://localhost:${values.PORT}`).replace(/\/+$/, ''),
    connectors: readConnectorSettings(present),
    encryptionKey: values.ENCRYPTION_KEY,
    encryptionKeysPrevious: commaList(values.ENCRYPTION_KEYS_PREVIOUS),
    outboundAllowlist: commaList(values.OUTBOUND_ALLOWLIST),
    outboundAllowPrivate: values.OUTBOUND_ALLOW_PRIVATE ?? values.NODE_ENV !== 'production',
    providerTimeoutMs: values.PROVIDER_TIMEOUT_MS,
    // Expired keys are purged by the background engine (src/jobs/purge.task.ts), not by a timer of each process.
    idempotency: { ttlHours: values.IDEMPOTENCY_TTL_HOURS, leaseSeconds: values.IDEMPOTENCY_LEASE_SECONDS, purgeIntervalMs: 0 },
    engine: {
      workers: values.WORKERS === 1,
      concurrency: values.WORKER_CONCURRENCY,
      pollIntervalMs: values.WORKER_POLL_INTERVAL_MS,
      healthCheckIntervalSeconds: values.HEALTH_CHECK_INTERVAL_SECONDS,
      healthCheckMaxBackoffSeconds: Math.max(values.HEALTH_CHECK_MAX_BACKOFF_SECONDS, values.HEALTH_CHECK_INTERVAL_SECONDS),
      tokenRefreshAheadSeconds: values.TOKEN_REFRESH_AHEAD_SECONDS,
      tokenRefreshMaxAgeSeconds: values.TOKEN_REFRESH_MAX_AGE_SECONDS,
      syncIntervalSeconds: values.SYNC_INTERVAL_SECONDS,
      syncMaxItems: values.SYNC_MAX_ITEMS,
    },
    webhooks: {
      retryScheduleMs: parseRetrySchedule(values.WEBHOOK_RETRY_SCHEDULE) ?? WEBHOOKS.retryScheduleMs,
      timeoutMs: values.WEBHOOK_TIMEOUT_MS,
      disableAfterMs: values.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
      secretGraceMs: values.WEBHOOK_SECRET_GRACE_HOURS * 3_600_000,
      concurrency: values.WEBHOOK_CONCURRENCY,
      retentionDays: values.WEBHOOK_DELIVERY_RETENTION_DAYS,
    },
    events: {
      retentionDays: values.EVENT_RETENTION_DAYS,
      redisUrl: values.REDIS_URL,
      maxSubscriptionsPerKey: values.SUBSCRIPTIONS_MAX_PER_KEY,
    },
    apiKeyCache: { ttlMs: values.API_KEY_CACHE_TTL_MS, size: values.API_KEY_CACHE_SIZE },
    hardening: {
      graphiql: values.GRAPHIQL ?? values.NODE_ENV !== 'production',
      introspection: values.INTROSPECTION ?? values.NODE_ENV !== 'production',
      hideSuggestions: values.HIDE_SUGGESTIONS ?? values.NODE_ENV === 'production',
      maxRequestBodyBytes: values.MAX_REQUEST_BODY_BYTES,
      queryLimits: {
        maxCost: values.QUERY_MAX_COST,
        maxDepth: values.QUERY_MAX_DEPTH,
        maxAliases: values.QUERY_MAX_ALIASES,
        maxTokens: values.QUERY_MAX_TOKENS,
        maxDirectives: values.QUERY_MAX_DIRECTIVES,
      },
      rateLimit: {
        enabled: values.RATE_LIMIT_ENABLED,
        redisUrl: values.REDIS_URL,
        windowSeconds: values.RATE_LIMIT_WINDOW_SECONDS,
        apiKeyPoints: values.RATE_LIMIT_API_KEY_POINTS,
        organizationPoints: values.RATE_LIMIT_ORGANIZATION_POINTS,
        integrationTests: values.RATE_LIMIT_INTEGRATION_TESTS,
        integrationTestWindowSeconds: values.RATE_LIMIT_INTEGRATION_TEST_WINDOW_SECONDS,
        local: { flushMs: values.RATE_LIMIT_FLUSH_MS, exactPoints: values.RATE_LIMIT_EXACT_POINTS },
      },
      metricsToken: values.METRICS_TOKEN,
      // Production fails closed: without a token, /metrics is served only when asked for explicitly.
      metricsPublic: values.METRICS_PUBLIC ?? values.NODE_ENV !== 'production',
      tracesExporter: values.OTEL_TRACES_EXPORTER,
    },
  };
}
