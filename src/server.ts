import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { DocumentNode } from 'graphql';
import { createLRUCache, createYoga, type YogaServerInstance } from 'graphql-yoga';
import { createLoaders, type GatewayContext } from './context.js';
import type { DatabaseHandle } from './db/connection.js';
import { COMPILED_OPERATION_CACHE_SIZE, compiledExecution } from './graphql/compiled-execution.js';
import { Sightings } from './graphql/sightings.js';
import { unauthenticatedError } from './graphql/errors.js';
import { schema } from './graphql/schema.js';
import { type AdmissionStore, postgresAdmissionStore } from './http/admission/admission-store.js';
import { FAILURE_MESSAGES } from './http/admission/admit.js';
import { useGraphQLAdmission } from './http/admission/graphql-admission.plugin.js';
import { OidcVerifier, type OidcOptions } from './http/admission/oidc/oidc-verifier.js';
import { type UserAdmission, userAdmission } from './http/admission/oidc/user-admission.js';
import { requestStateOf, type WithRequestState } from './http/admission/request-state.js';
import { DEFAULT_VERIFIED_KEYS, VerifiedKeys, type VerifiedKeysOptions } from './http/admission/verified-keys.js';
import { useEventStream } from './http/event-stream.js';
import { type GraphiQLSetup, useGatewayGraphiQL } from './http/graphiql.js';
import { DEFAULT_MAX_REQUEST_BODY_BYTES, DEFAULT_QUERY_LIMITS, gatewayHardening, type HardeningOptions } from './http/hardening.js';
import { EarlyClaims } from './http/idempotency/early-claim.js';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_TTL_HOURS,
  type IdempotencyOptions,
  useIdempotency,
} from './http/idempotency/idempotency.plugin.js';
import { operationCostsOf } from './http/limits/query-cost.js';
import { GatewayMetrics } from './http/observability/gateway-metrics.js';
import { isMaskedOriginal } from './http/observability/mask-error.js';
import { requestTelemetry } from './http/observability/request-telemetry.js';
import { createRouter } from './http/router.js';
import type { Logger } from './logger.js';
import { EventFeed } from './modules/events/event-feed.js';
import type { EventStreams } from './modules/events/event-streams.js';
import { DEFAULT_EVENTS_CONFIG } from './modules/events/events.config.js';
import { databaseSignal, type PublicationSignal } from './modules/events/publication-signal.js';
import { SubscriptionSlots } from './modules/events/subscription-slots.js';
import { type GatewayServices, servicesForRequest } from './services.js';

export interface GatewayOptions {
  database: DatabaseHandle;
  logger: Logger;
  services: GatewayServices;
  /** Serve GraphiQL to browsers on GET /graphql (`true` or what it opens with), or not (`false`). */
  graphiql?: boolean | GraphiQLSetup;
  /** Query limits, rate limits, metrics, tracing (src/http/hardening.ts); defaults when absent, without rate limits. */
  hardening?: HardeningOptions;
  /** Idempotency-Key leases, retention and purging (src/idempotency); defaults when absent. */
  idempotency?: IdempotencyOptions;
  /** Sign-in by the organization's identity provider: bearer JWTs (`AUTH_OIDC_*`); absent, API keys only. */
  oidc?: OidcOptions | null;
  /** Exact origins whose browser pages may call GraphQL and the REST API (`CORS_ALLOWED_ORIGINS`); none when absent. */
  corsAllowedOrigins?: readonly string[];
  /** Live event streams (subscriptions); defaults when absent. */
  events?: EventStreamOptions;
  /** How long, and how many, verified API keys are trusted without the database (API_KEY_CACHE_*); defaults when absent. */
  apiKeyCache?: VerifiedKeysOptions;
}

/** How subscriptions learn of published events, and how many a key may hold. */
export interface EventStreamOptions {
  /**
   * How this process hears of publications: Redis pub/sub when REDIS_URL is set (`openRedisSignal`, opened
   * by the caller, closed by `dispose()`); the database's LISTEN/NOTIFY when absent.
   */
  signal?: PublicationSignal | undefined;
  /** Live subscriptions per API key over all processes (SUBSCRIPTIONS_MAX_PER_KEY). */
  maxSubscriptionsPerKey?: number;
  /** How often the feed looks for published events that no notification announced. */
  pollIntervalMs?: number;
  /** How often a quiet event stream gets a keep-alive comment. */
  keepAliveMs?: number;
}

export type GraphQLServer = YogaServerInstance<WithRequestState, GatewayContext>;

/**
 * The gateway: a node:http request listener (`createHttpServer(gateway)`), and the same routes as a
 * web-standard `fetch` (in-process tests, other runtimes).
 */
export interface Gateway {
  (request: IncomingMessage, response: ServerResponse): void;
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
  /** The GraphQL server the router hands /graphql to. */
  readonly graphql: GraphQLServer;
  /** Resolves once the gateway hears of changes to API keys (until then it trusts no verified key). */
  ready(): Promise<void>;
  /** Ends every live subscription (their streams complete), so that a draining server is not held open by them. */
  endSubscriptions(): Promise<void>;
  /** Stops timers and closes what the gateway's options opened (the budget store, the tracer). */
  dispose(): Promise<void>;
}

const GRAPHQL_ENDPOINT = '/graphql';

/**
 * Documents whose parse, and whose parse errors, are kept (least recently used first out, an hour at
 * most); a document is kept from the second time its text is parsed, so one-off documents are not kept.
 * Validation results are held weakly by document, so kept as long as the document is kept here or by the
 * compiled operations (COMPILED_OPERATION_CACHE_SIZE in graphql/compiled-execution.ts); the cost model
 * (REMEMBERED_DOCUMENTS in limits/query-cost.ts) holds documents weakly. However many distinct documents
 * clients send, `gateway_graphql_document_cache_entries` reports how full each cache is.
 */
export const DOCUMENT_CACHE_SIZE = 1_000;

/** The per-document caches of a GraphQL server, entries in each now. */
export interface DocumentCacheSizes {
  parse: number;
  compiled: number;
  /** Operations run once and counted, not compiled yet. */
  counted: number;
  cost: number;
}

/** This process's event feed and subscription slots, and how it hears of publications. */
function createEventStreams(options: GatewayOptions): EventStreams & { signal: PublicationSignal } {
  const { database, logger } = options;
  const signal = options.events?.signal ?? databaseSignal(database.notifications);
  return {
    signal,
    feed: new EventFeed({ db: database.db, signal, pollIntervalMs: options.events?.pollIntervalMs ?? 2_000, logger }),
    slots: new SubscriptionSlots(database.db, (error) => logger.warn({ err: error }, 'events: renewing subscription slots failed')),
    maxPerKey: options.events?.maxSubscriptionsPerKey ?? DEFAULT_EVENTS_CONFIG.maxSubscriptionsPerKey,
  };
}

/** GraphQL over the gateway's schema, admitting every request through the admission layer first. */
function createGraphQLServer(
  options: GatewayOptions,
  store: AdmissionStore,
  users: UserAdmission | null,
  events: EventStreams,
): { server: GraphQLServer; cacheSizes(): DocumentCacheSizes } {
  const { database, logger } = options;
  const hardening = gatewayHardening(options.hardening ?? {}, { logger });
  const rateLimiter = options.hardening?.rateLimiter ?? null;
  const admission = {
    store,
    rateLimiter,
    logger,
    users,
    costs: operationCostsOf(schema),
    limits: { ...DEFAULT_QUERY_LIMITS, ...options.hardening?.queryLimits },
    maxBodyBytes: hardening.maxRequestBodySize,
    claims: new EarlyClaims({
      leaseSeconds: options.idempotency?.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
      ttlHours: options.idempotency?.ttlHours ?? DEFAULT_TTL_HOURS,
    }),
  };
  const documents = createLRUCache<DocumentNode>({ max: DOCUMENT_CACHE_SIZE, ttl: 3_600_000 });
  // A parsed document is kept from its text's second sighting: one-off documents are not kept at all.
  const sightings = new Sightings(DOCUMENT_CACHE_SIZE);
  const documentCache = {
    get: (text: string) => documents.get(text),
    set: (text: string, document: DocumentNode) => {
      if (sightings.seenBefore(text)) documents.set(text, document);
    },
  };
  const compiled = compiledExecution({
    max: COMPILED_OPERATION_CACHE_SIZE,
    onError: (error) => logger.warn({ err: error }, 'graphql-jit could not compile an operation; it runs uncompiled'),
  });
  const server = createYoga<WithRequestState, GatewayContext>({
    schema,
    maskedErrors: hardening.maskedErrors,
    parserAndValidationCache: {
      documentCache,
      errorCache: createLRUCache({ max: DOCUMENT_CACHE_SIZE, ttl: 3_600_000 }),
      validationCache: true,
    },
    // Limited by useRequestBodyLimit (src/http/limits/request-checks.ts), which does without Yoga's per-request stream.
    maxRequestBodySize: false,
    batching: false,
    // No field takes a file: multipart requests (GraphQL multipart uploads) are refused with 415.
    multipart: false,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    // Cross-origin requests are the router's (src/http/cors.ts): one policy for GraphQL and REST.
    cors: false,
    // Liveness and readiness are the router's.
    healthCheckEndpoint: false as unknown as string,
    landingPage: false,
    // Served by useGatewayGraphiQL below, from the gateway's own copy of its assets.
    graphiql: false,
    // Yoga logs three debug lines a request: put together only when they are written.
    logging: {
      debug: (...args) => {
        if (logger.isLevelEnabled('debug')) logger.debug(args.map(String).join(' '));
      },
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      // A masked error is logged with its request's id where the answer is written (useMaskedErrorReports).
      error: (...args) => {
        if (!isMaskedOriginal(args[0])) logger.error({ err: args[0] }, 'unexpected error');
      },
    },
    plugins: [
      // First, where Yoga's own GraphiQL would answer: the page needs no key and passes no request check.
      ...(options.graphiql === false
        ? []
        : [useGatewayGraphiQL(GRAPHQL_ENDPOINT, typeof options.graphiql === 'object' ? options.graphiql : {})]),
      // Compiled execution (graphql-jit): a list page costs a third less CPU (BENCHMARKS.md). First, so
      // that plugins wrapping the execute function (idempotency) wrap the compiled one.
      compiled.plugin,
      useGraphQLAdmission(admission),
      useIdempotency({ db: database.db, logger }, options.idempotency),
      ...hardening.plugins,
      useEventStream({ keepAliveMs: options.events?.keepAliveMs }),
    ],
    context: ({ request, state }) => {
      const admitted = requestStateOf({ state }, request);
      if (!admitted.viewer) throw unauthenticatedError(FAILURE_MESSAGES.MISSING);
      return {
        viewer: admitted.viewer,
        db: database.db,
        loaders: createLoaders(database.db, admitted.viewer.organization.id),
        requestId: admitted.requestId,
        services: servicesForRequest(options.services, admitted.requestId),
        state: admitted,
        events,
        eventStream: { lastEventId: request.headers.get('last-event-id'), position: null },
      };
    },
  });
  return {
    server,
    cacheSizes: () => ({
      parse: documents.size,
      compiled: compiled.size(),
      counted: compiled.counted(),
      cost: admission.costs.size,
    }),
  };
}

/** Builds the gateway: the router in front of GraphQL, the OAuth2 callback, probes and metrics. */
export function createGateway(options: GatewayOptions): Gateway {
  const { database, logger } = options;
  // One verifier, so that GraphQL and REST share the identity provider's cached key set.
  const users = options.oidc ? userAdmission(database.db, new OidcVerifier(options.oidc), options.services.vault) : null;
  const events = createEventStreams(options);
  // One cache of verified keys for GraphQL and REST; it trusts nothing until it hears of changes.
  const keys = new VerifiedKeys(database.db, options.apiKeyCache ?? DEFAULT_VERIFIED_KEYS, (error) =>
    logger.warn({ err: error }, 'API keys: recording use or hearing of changes failed'),
  );
  const listening = keys.listen(database.notifications);
  const store = postgresAdmissionStore(database.db, keys);
  const { server: graphql, cacheSizes } = createGraphQLServer(options, store, users, events);
  const metrics = new GatewayMetrics(
    database,
    (error) => logger.warn({ err: error }, 'metrics: counting integrations failed'),
    () => ({ ...cacheSizes() }),
  );
  const { router, graphqlOnNode } = createRouter({
    yoga: graphql,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    database,
    services: options.services,
    logger,
    telemetry: requestTelemetry({ logger, metrics, tracer: options.hardening?.tracer, graphqlEndpoint: GRAPHQL_ENDPOINT }),
    metrics,
    metricsAccess: { token: options.hardening?.metricsToken, open: options.hardening?.metricsPublic ?? true },
    graphiql: options.graphiql !== false,
    rest: {
      store,
      rateLimiter: options.hardening?.rateLimiter ?? null,
      idempotency: {
        leaseSeconds: options.idempotency?.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
        ttlHours: options.idempotency?.ttlHours ?? DEFAULT_TTL_HOURS,
      },
      maxBodyBytes: options.hardening?.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
      users,
    },
    corsAllowedOrigins: options.corsAllowedOrigins ?? [],
  });
  // The gateway's node:http server sets its own deadlines and limits (src/http/node-server.ts); this only
  // turns its requests into the router's, lazily, without reading their bodies.
  const listener = getRequestListener(router.fetch, { overrideGlobalObjects: false, autoCleanupIncoming: false });
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    if (!graphqlOnNode(request, response)) void listener(request, response);
  };
  return Object.assign(handle, {
    // Yoga's Request, as `yoga.fetch` builds it: it gives a string body its Content-Length, as any HTTP client does.
    fetch: async (input: Request | string | URL, init?: RequestInit) => {
      const target = typeof input === 'string' && input.startsWith('/') ? `http://localhost${input}` : input;
      return router.fetch(new graphql.fetchAPI.Request(target, init));
    },
    graphql,
    ready: () => listening,
    endSubscriptions: () => events.feed.close(),
    dispose: async () => {
      await listening;
      await keys.close();
      await events.feed.close();
      await graphql.dispose();
      await events.slots.close().catch(() => {});
      await events.signal.close();
    },
  });
}
