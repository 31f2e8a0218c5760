import { randomUUID } from 'node:crypto';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { createYoga, type GraphQLParams, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { DatabaseHandle } from './db/connection.js';
import { createLoaders, type GatewayContext } from './context.js';
import { acceptsAnswer, DEFAULT_QUERY_LIMITS, gatewayHardening, type HardeningOptions } from './http/hardening.js';
import { type EarlyChargePlan, planEarlyCharge, readableBeforeAuthentication, settleEarlyCharge } from './http/limits/early-charge.js';
import { operationCostsOf } from './http/limits/query-cost.js';
import type { RateLimiter } from './http/limits/rate-limiter.js';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_TTL_HOURS,
  type IdempotencyOptions,
  useIdempotency,
} from './http/idempotency/idempotency.plugin.js';
import { type EarlyClaimPlan, EarlyClaims } from './http/idempotency/early-claim.js';
import { unauthenticatedError } from './graphql/errors.js';
import { schema } from './graphql/schema.js';
import type { Logger } from './logger.js';
import type { GatewayServices } from './services.js';
import { type GraphiQLSetup, useGatewayGraphiQL } from './http/graphiql.js';
import { useRequestClock } from './http/request-clock.js';
import { callbackFailurePage, handleOAuthCallback, OAUTH_CALLBACK_PATH } from './modules/integration/oauth-callback.js';
import { OAUTH_DONE_PATH, oauthDonePage } from './http/oauth-done.js';
import { type AuthenticationFailure, authenticate, type Credential, credentialOf } from './modules/api-key/api-key.service.js';
import type { Viewer } from './modules/api-key/viewer.js';

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
 * What it takes to charge a request's rate limit (limits/early-charge.ts), or claim its Idempotency-Key
 * (idempotency/early-claim.ts), in its authentication statement.
 */
interface EarlyWork {
  rateLimiter: RateLimiter | null;
  costs: ReturnType<typeof operationCostsOf>;
  limits: { maxCost: number; maxDepth: number };
  maxBodyBytes: number;
  claims: EarlyClaims;
}

/**
 * Authenticates every GraphQL request before its document is even parsed, so that an unauthenticated
 * caller learns nothing about the schema, and answers 401 when the key is missing or invalid. A JSON POST
 * that passes every check made before its body is read is authenticated once its body is read (and
 * before any answer), so that the same statement charges a query this process has run before to the rate
 * limit, or claims the Idempotency-Key of such a mutation.
 */
function useGatewayRequest(database: DatabaseHandle, logger: Logger, states: WeakMap<Request, RequestState>, early: EarlyWork): Plugin {
  const refuse = (state: RequestState, failure: AuthenticationFailure): never => {
    logger.info({ requestId: state.requestId, failure }, 'authentication failed');
    throw unauthenticatedError(FAILURE_MESSAGES[failure]);
  };
  const signIn = async (
    request: Request,
    state: RequestState,
    credential: Credential,
    plan: { charge: EarlyChargePlan | null; claim: EarlyClaimPlan | null } | null,
  ) => {
    const onBackgroundError = (error: unknown) => logger.warn({ err: error, requestId: state.requestId }, 'recording API key use failed');
    const charge = plan?.charge ?? null;
    const claim = plan?.claim ?? null;
    let result: Awaited<ReturnType<typeof authenticate>>;
    try {
      result = await authenticate(database.db, credential, onBackgroundError, {
        ...(charge ? { charge: { points: charge.points, budgets: charge.budgets, roles: charge.roles } } : {}),
        ...(claim ? { claim: claim.terms } : {}),
      });
    } catch (error) {
      if (!charge && !claim) throw error;
      // Charged or claimed on its own when it runs instead, where a failing budget store lets it through.
      logger.warn(
        { err: error, requestId: state.requestId },
        'charging or claiming with authentication failed; doing it when the operation runs',
      );
      result = await authenticate(database.db, credential, onBackgroundError);
    }
    if ('failure' in result) return refuse(state, result.failure);
    state.viewer = result.viewer;
    if (charge && early.rateLimiter && result.charged) settleEarlyCharge(early.rateLimiter, request, charge, result.viewer, result.charged);
    if (claim && result.claim !== undefined) {
      early.claims.settle(request, {
        params: claim.params,
        organizationId: result.viewer.organization.id,
        apiKeyId: result.viewer.apiKey.id,
        terms: claim.terms,
        outcome: result.claim,
      });
    }
  };
  return {
    onRequest({ request }) {
      states.set(request, { requestId: requestIdOf(request) });
    },
    async onRequestParse({ request, requestParser, setRequestParser }) {
      const state = states.get(request) as RequestState;
      const credential = credentialOf(request.headers.get('authorization'));
      if ('failure' in credential) return refuse(state, credential.failure);
      if (requestParser && readableBeforeAuthentication(request, early.maxBodyBytes, acceptsAnswer)) {
        setRequestParser(async (parsing) => {
          let params: Awaited<ReturnType<typeof requestParser>>;
          try {
            params = await requestParser(parsing);
          } catch (error) {
            await signIn(request, state, credential, null);
            throw error;
          }
          const charge = planEarlyCharge(params as GraphQLParams, early);
          const query = (params as GraphQLParams).query;
          const claim = charge
            ? null
            : early.claims.plan(request, params as GraphQLParams, typeof query === 'string' ? early.costs.known(query) : undefined);
          await signIn(request, state, credential, { charge, claim });
          return params;
        });
        return;
      }
      await signIn(request, state, credential, null);
    },
    onResponse({ request, response }) {
      // Yoga's own endpoints (/health, GraphiQL) answer before this plugin's onRequest runs.
      response.headers.set('x-request-id', states.get(request)?.requestId ?? requestIdOf(request));
    },
  };
}

/**
 * The browser's return from a provider's OAuth2 authorization (no API key: the state is the credential),
 * and the page that shows how it ended when the connection named no return URL.
 */
function useOAuthCallback(database: DatabaseHandle, services: GatewayServices, states: WeakMap<Request, RequestState>): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== OAUTH_CALLBACK_PATH && url.pathname !== OAUTH_DONE_PATH) return;
      if (request.method !== 'GET') {
        endResponse(new Response(null, { status: 405, headers: { allow: 'GET' } }));
        return;
      }
      if (url.pathname === OAUTH_DONE_PATH) {
        endResponse(oauthDonePage(url));
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

/**
 * Liveness (/health: the process answers) and readiness (/ready: so does the database), matched by path
 * alone, so that a query string (a browser's, a load balancer's cache buster) changes nothing.
 */
function useProbes(database: DatabaseHandle): Plugin {
  return {
    async onRequest({ url, endResponse }) {
      if (url.pathname === '/health') {
        endResponse(new Response(null, { status: 200 }));
      } else if (url.pathname === '/ready') {
        const ready = await database.ping().then(
          () => true,
          () => false,
        );
        endResponse(new Response(null, { status: ready ? 200 : 503 }));
      }
    },
  };
}

/** Builds the gateway's HTTP handler: GraphQL at /graphql, liveness at /health, readiness at /ready. */
export function createGateway(options: GatewayOptions): Gateway {
  const { database, logger } = options;
  const states = new WeakMap<Request, RequestState>();
  const hardening = gatewayHardening(options.hardening ?? {}, {
    database,
    logger,
    requestInfo: (request) => states.get(request),
    graphqlEndpoint: '/graphql',
  });
  const earlyWork: EarlyWork = {
    rateLimiter: options.hardening?.rateLimiter ?? null,
    costs: operationCostsOf(schema),
    limits: { ...DEFAULT_QUERY_LIMITS, ...options.hardening?.queryLimits },
    maxBodyBytes: hardening.maxRequestBodySize,
    claims: new EarlyClaims({
      leaseSeconds: options.idempotency?.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
      ttlHours: options.idempotency?.ttlHours ?? DEFAULT_TTL_HOURS,
    }),
  };
  return createYoga<Record<string, unknown>, GatewayContext>({
    schema,
    maskedErrors: hardening.maskedErrors,
    // Limited by useRequestBodyLimit (src/http/limits/request-checks.ts), which does without Yoga's per-request stream.
    maxRequestBodySize: false,
    batching: false,
    // No field takes a file: multipart requests (GraphQL multipart uploads) are refused with 415.
    multipart: false,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    // Served by useGatewayGraphiQL below, from the gateway's own copy of its assets.
    graphiql: false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args[0] }, 'unexpected error'),
    },
    plugins: [
      // First, where Yoga's own GraphiQL would answer: the page needs no key and passes no request check.
      ...(options.graphiql === false ? [] : [useGatewayGraphiQL('/graphql', typeof options.graphiql === 'object' ? options.graphiql : {})]),
      // Compiled execution (graphql-jit): a list page costs a third less CPU (BENCHMARKS.md). First, so
      // that plugins wrapping the execute function (idempotency) wrap the compiled one.
      useGraphQlJit(
        {},
        { onError: (error) => logger.warn({ err: error }, 'graphql-jit could not compile an operation; it runs uncompiled') },
      ),
      useGatewayRequest(database, logger, states, earlyWork),
      useRequestClock(),
      useIdempotency({ db: database.db, logger, earlyClaims: earlyWork.claims }, options.idempotency),
      ...hardening.plugins,
      useOAuthCallback(database, options.services, states),
      useProbes(database),
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
