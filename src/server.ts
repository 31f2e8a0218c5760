import { randomUUID } from 'node:crypto';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { createYoga, type Plugin, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import type { DatabaseHandle } from './db/connection.js';
import { createLoaders, type GatewayContext } from './context.js';
import { gatewayHardening, type HardeningOptions } from './hardening.js';
import { type IdempotencyOptions, useIdempotency } from './idempotency/idempotency.plugin.js';
import { unauthenticatedError } from './graphql/errors.js';
import { schema } from './graphql/schema.js';
import type { Logger } from './logger.js';
import type { GatewayServices } from './services.js';
import { callbackFailurePage, handleOAuthCallback, OAUTH_CALLBACK_PATH } from './modules/integration/oauth-callback.js';
import { type AuthenticationFailure, authenticate, type Viewer } from './modules/api-key/api-key.service.js';

export interface GatewayOptions {
  database: DatabaseHandle;
  logger: Logger;
  services: GatewayServices;
  /** Serve GraphiQL to browsers on GET /graphql. */
  graphiql?: boolean;
  /** Query limits, rate limits, metrics, tracing (src/hardening.ts); defaults when absent, without rate limits. */
  hardening?: HardeningOptions;
  /** Idempotency-Key leases, retention and purging (src/idempotency); defaults when absent. */
  idempotency?: IdempotencyOptions;
}

export type Gateway = YogaServerInstance<Record<string, unknown>, GatewayContext>;

const FAILURE_MESSAGES: Record<AuthenticationFailure, string> = {
  MISSING: 'Authentication required: send "Authorization: Bearer <API key>".',
  MALFORMED: 'The Authorization header is not "Bearer <API key>" with a key this gateway issued.',
  UNKNOWN: 'The API key is not valid.',
  REVOKED: 'The API key has been revoked.',
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(request: Request): string {
  const offered = request.headers.get('x-request-id');
  return offered && REQUEST_ID.test(offered) ? offered : randomUUID();
}

/** Per-request facts settled before GraphQL runs, keyed by the request object. */
interface RequestState {
  requestId: string;
  viewer?: Viewer;
}

/**
 * Authenticates every GraphQL request before its document is even parsed, so that an unauthenticated
 * caller learns nothing about the schema, and answers 401 when the key is missing or invalid.
 */
function useGatewayRequest(database: DatabaseHandle, logger: Logger, states: WeakMap<Request, RequestState>): Plugin {
  return {
    onRequest({ request }) {
      states.set(request, { requestId: requestIdOf(request) });
    },
    async onRequestParse({ request }) {
      const state = states.get(request) as RequestState;
      const result = await authenticate(database.db, request.headers.get('authorization'), (error) =>
        logger.warn({ err: error, requestId: state.requestId }, 'recording API key use failed'),
      );
      if ('failure' in result) {
        logger.info({ requestId: state.requestId, failure: result.failure }, 'authentication failed');
        throw unauthenticatedError(FAILURE_MESSAGES[result.failure]);
      }
      state.viewer = result.viewer;
    },
    onResponse({ request, response }) {
      // Yoga's own endpoints (/health, GraphiQL) answer before this plugin's onRequest runs.
      response.headers.set('x-request-id', states.get(request)?.requestId ?? requestIdOf(request));
    },
  };
}

/** The browser's return from a provider's OAuth2 authorization: no API key, the state is the credential. */
function useOAuthCallback(database: DatabaseHandle, services: GatewayServices, states: WeakMap<Request, RequestState>): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== OAUTH_CALLBACK_PATH) return;
      if (request.method !== 'GET') {
        endResponse(new Response(null, { status: 405, headers: { allow: 'GET' } }));
        return;
      }
      const requestId = states.get(request)?.requestId ?? requestIdOf(request);
      try {
        endResponse(await handleOAuthCallback(services, database.db, request, requestId));
      } catch (error) {
        services.logger.error({ err: error, requestId }, 'OAuth2 callback failed');
        endResponse(callbackFailurePage(requestId));
      }
    },
  };
}

/** Builds the gateway's HTTP handler: GraphQL at /graphql, liveness at /health, readiness at /ready. */
export function createGateway(options: GatewayOptions): Gateway {
  const { database, logger } = options;
  const states = new WeakMap<Request, RequestState>();
  const hardening = gatewayHardening(options.hardening ?? {}, { database, logger, requestInfo: (request) => states.get(request), graphqlEndpoint: '/graphql' });
  return createYoga<Record<string, unknown>, GatewayContext>({
    schema,
    maskedErrors: hardening.maskedErrors,
    maxRequestBodySize: hardening.maxRequestBodySize,
    batching: false,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    graphiql: options.graphiql ?? true,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args[0] }, 'unexpected error'),
    },
    plugins: [
      // Compiled execution (graphql-jit): a list page costs a third less CPU (BENCHMARKS.md). First, so
      // that plugins wrapping the execute function (idempotency) wrap the compiled one.
      useGraphQlJit({}, { onError: (error) => logger.warn({ err: error }, 'graphql-jit could not compile an operation; it runs uncompiled') }),
      useGatewayRequest(database, logger, states),
      useIdempotency({ db: database.db, logger }, options.idempotency),
      ...hardening.plugins,
      useOAuthCallback(database, options.services, states),
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          try {
            await database.ping();
            return true;
          } catch {
            return false;
          }
        },
      }),
    ],
    context: ({ request }) => {
      const state = states.get(request);
      if (!state?.viewer) throw unauthenticatedError(FAILURE_MESSAGES.MISSING);
      return {
        viewer: state.viewer,
        db: database.db,
        loaders: createLoaders(database.db, state.viewer.organization.id),
        requestId: state.requestId,
        services: options.services,
        idempotencyKey: null,
      };
    },
  });
}
