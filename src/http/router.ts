import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { YogaServerInstance } from 'graphql-yoga';
import { Hono } from 'hono';
import type { DatabaseHandle } from '../db/connection.js';
import type { Logger } from '../logger.js';
import { type GatewayServices, servicesForRequest } from '../services.js';
import type { UserAdmission } from './admission/oidc/user-admission.js';
import { newRequestState, type RequestState } from './admission/request-state.js';
import { corsPolicy, nodeCorsPolicy } from './cors.js';
import { GRAPHIQL_ASSETS_PATH, graphiqlAsset } from './graphiql.js';
import { callbackFailurePage, OAUTH_CALLBACK_PATH, oauthCallback } from './oauth-callback.route.js';
import { OAUTH_DONE_PATH, oauthDonePage } from './oauth-done.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { AdmissionStore } from './admission/admission-store.js';
import type { GatewayMetrics } from './observability/gateway-metrics.js';
import type { RequestTelemetry } from './observability/request-telemetry.js';
import { type MetricsAccess, metricsResponse, metricsServed } from './observability/telemetry.plugin.js';
import { mountRest } from './rest/rest.mount.js';
import { mountConnect } from './connect/connect.route.js';

/** The router's per-request values: the request's state, and, when served by node:http, its socket objects. */
export type RouterEnv = { Bindings: Partial<HttpBindings>; Variables: { state: RequestState } };

export interface RouterDeps {
  // biome-ignore lint/suspicious/noExplicitAny: the router hands requests to GraphQL whatever its context types
  yoga: YogaServerInstance<any, any>;
  graphqlEndpoint: string;
  database: DatabaseHandle;
  services: GatewayServices;
  logger: Logger;
  telemetry: RequestTelemetry;
  metrics: GatewayMetrics;
  metricsAccess: MetricsAccess;
  /** Whether GraphiQL's files are served under GRAPHIQL_ASSETS_PATH. */
  graphiql: boolean;
  /** What the REST API shares with GraphQL: its rate limiter, Idempotency-Key terms, body limit and sign-in. */
  rest: {
    /** The admission store GraphQL uses too: one cache of verified keys per gateway. */
    store: AdmissionStore;
    rateLimiter: RateLimiter | null;
    idempotency: { leaseSeconds: number; ttlHours: number };
    maxBodyBytes: number;
    users: UserAdmission | null;
  };
  /** Exact origins whose pages may call GraphQL and the REST API (CORS); none when empty. */
  corsAllowedOrigins: readonly string[];
}

/** The router, and GraphQL served straight on node's request and response. */
export interface GatewayRouter {
  router: Hono<RouterEnv>;
  /** Serves a GraphQL request (not a preflight) on node's request and response; false for any other request. */
  graphqlOnNode(incoming: IncomingMessage, outgoing: ServerResponse): boolean;
}

type NodeGraphQLListener = (incoming: IncomingMessage, outgoing: ServerResponse, context: { state: RequestState }) => unknown;

const methodNotAllowed = (allow: string) => new Response(null, { status: 405, headers: { allow } });

/**
 * The gateway's HTTP surface: every route, with one request state each. GraphQL at /graphql (and its
 * GraphiQL page for browsers), the OAuth2 callback and its end page, liveness (/health: the process
 * answers) and readiness (/ready: so does the database), Prometheus metrics, and the REST API. Routes match by path alone,
 * so a query string (a browser's, a load balancer's cache buster) changes nothing; an unknown path is 404.
 */
export function createRouter(deps: RouterDeps): GatewayRouter {
  const { yoga, graphqlEndpoint, database, services, logger, telemetry } = deps;
  const router = new Hono<RouterEnv>();

  router.use(async (c, next) => {
    // Read from the node request when there is one: asking the router's request for a header builds all of them.
    const offered = c.env?.incoming ? c.env.incoming.headers['x-request-id'] : c.req.header('x-request-id');
    const state = newRequestState(typeof offered === 'string' ? offered : undefined);
    c.set('state', state);
    await telemetry.observe({ method: c.req.method, path: c.req.path }, state, async () => {
      await next();
      // GraphQL wrote its answer to the socket itself (see below), and noted how in the state.
      if (state.answered && c.res.headers.has('x-hono-already-sent')) return state.answered;
      if (!c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', state.requestId);
      return { status: c.res.status, contentType: c.res.headers.get('content-type') };
    });
  });

  // One CORS policy for both APIs (cors.ts), ahead of their routes: preflights never reach admission.
  const cors = corsPolicy(deps.corsAllowedOrigins);
  for (const path of [graphqlEndpoint, `${graphqlEndpoint}/`, '/v1/*', '/integrations', '/integrations/*']) router.use(path, cors);

  // Yoga's node listener takes the server context after the socket objects (its types name only the two).
  const nodeListener = yoga.requestListener as NodeGraphQLListener;
  const graphql = (c: { env: Partial<HttpBindings>; req: { raw: Request }; get(key: 'state'): RequestState }) => {
    const state = c.get('state');
    const { incoming, outgoing } = c.env ?? {};
    // Served by node:http: Yoga reads the request from, and writes its answer to, the socket objects
    // directly, as it does when it is the server itself; converting both through web streams would
    // double the CPU time of a small query (BENCHMARKS.md).
    if (incoming && outgoing) return Promise.resolve(nodeListener(incoming, outgoing, { state })).then(() => RESPONSE_ALREADY_SENT);
    return yoga.fetch(c.req.raw, { state });
  };
  router.all(graphqlEndpoint, graphql);
  router.all(`${graphqlEndpoint}/`, graphql);

  router.all('/health', () => new Response(null, { status: 200 }));
  router.all('/ready', async () => {
    const ready = await database.ping().then(
      () => true,
      () => false,
    );
    return new Response(null, { status: ready ? 200 : 503 });
  });

  if (metricsServed(deps.metricsAccess)) {
    router.all('/metrics', (c) =>
      c.req.method === 'GET' ? metricsResponse(c.req.raw, deps.metrics, deps.metricsAccess) : methodNotAllowed('GET'),
    );
  }

  // The browser's return from a provider's OAuth2 authorization (no API key: the state is the credential),
  // and the page that shows how it ended when the connection named no return URL.
  router.all(OAUTH_CALLBACK_PATH, async (c) => {
    if (c.req.method !== 'GET') return methodNotAllowed('GET');
    const { requestId } = c.get('state');
    try {
      return await oauthCallback(servicesForRequest(services, requestId), database.db, c.req.raw, requestId);
    } catch (error) {
      logger.error({ err: error, requestId }, 'OAuth2 callback failed');
      return callbackFailurePage(requestId);
    }
  });
  router.all(OAUTH_DONE_PATH, (c) => (c.req.method === 'GET' ? oauthDonePage(new URL(c.req.url)) : methodNotAllowed('GET')));

  // The hosted connect page of connect sessions, and its embeddable script (src/http/connect/).
  mountConnect(router, { db: database.db, services, logger });

  // The REST API over the same services, its OpenAPI document and reference (src/http/rest/).
  mountRest(router, { db: database.db, services, logger, ...deps.rest });

  if (deps.graphiql)
    router.get(`${GRAPHIQL_ASSETS_PATH}*`, (c) => graphiqlAsset(c.req.path.slice(GRAPHIQL_ASSETS_PATH.length), c.req.raw));

  router.notFound(() => new Response(null, { status: 404 }));
  router.onError((error, c) => {
    logger.error({ err: error, requestId: c.get('state')?.requestId }, 'unexpected error');
    return new Response(null, { status: 500 });
  });
  return { router, graphqlOnNode: graphqlOnNode({ ...deps, nodeListener }) };
}

/**
 * GraphQL served on node's request and response, without the router: the same request state, telemetry
 * and CORS headers as through it (a preflight, and any other path, still goes through the router). About
 * a tenth of the CPU of a small query went to building the router's request and dispatching it
 * (BENCHMARKS.md).
 */
function graphqlOnNode(
  deps: Pick<RouterDeps, 'graphqlEndpoint' | 'logger' | 'telemetry' | 'corsAllowedOrigins'> & { nodeListener: NodeGraphQLListener },
): GatewayRouter['graphqlOnNode'] {
  const { graphqlEndpoint, logger, telemetry, nodeListener } = deps;
  const cors = nodeCorsPolicy(deps.corsAllowedOrigins);
  const paths = new Set([graphqlEndpoint, `${graphqlEndpoint}/`]);
  const serve = async (incoming: IncomingMessage, outgoing: ServerResponse, path: string) => {
    const offered = incoming.headers['x-request-id'];
    const state = newRequestState(typeof offered === 'string' ? offered : undefined);
    await telemetry.observe({ method: incoming.method ?? 'GET', path }, state, async () => {
      cors(incoming, outgoing);
      try {
        await nodeListener(incoming, outgoing, { state });
      } catch (error) {
        logger.error({ err: error, requestId: state.requestId }, 'unexpected error');
        if (outgoing.headersSent) outgoing.destroy();
        else outgoing.writeHead(500, { 'x-request-id': state.requestId }).end();
        return { status: 500, contentType: null };
      }
      return state.answered ?? { status: outgoing.statusCode, contentType: contentTypeOf(outgoing) };
    });
  };
  return (incoming, outgoing) => {
    const url = incoming.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (!paths.has(path) || incoming.method === 'OPTIONS') return false;
    serve(incoming, outgoing, path).catch((error) => logger.error({ err: error }, 'unexpected error'));
    return true;
  };
}

const contentTypeOf = (outgoing: ServerResponse) => {
  const value = outgoing.getHeader('content-type');
  return typeof value === 'string' ? value : null;
};
