import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import type { Admission } from '../admission/admit.js';
import { type IntegrationHandlerDeps, integrationHandlers } from './integrations.handlers.js';
import { inventoryHandlers } from './inventory.handlers.js';
import {
  connectIntegrationRoute,
  getIntegrationRoute,
  listHealthChecksRoute,
  listIntegrationsRoute,
  listResourcesRoute,
  listSyncRunsRoute,
  patchIntegrationRoute,
  revokeIntegrationRoute,
  syncIntegrationRoute,
  testIntegrationRoute,
} from './integrations.routes.js';
import { pointerOf, problem } from './problem.js';
import { createConnectSessionHandler } from './connect-sessions.handlers.js';
import { createConnectSessionRoute } from './connect-sessions.routes.js';
import { admitted, type RestOperation } from './rest-admission.js';
import { bodyWithin } from './rest-body.js';
import type { RestEnv } from './rest-env.js';
import { integrationIdOrNull, requestedLimit } from './rest-input.js';

export interface RestDeps extends IntegrationHandlerDeps {
  admission: Admission;
  /** The largest request body accepted, in bytes: the same limit as GraphQL's. */
  maxBodyBytes: number;
}

// Cost points per operation, after the GraphQL cost model (query-cost.ts): an object costs 1, a page of
// n costs 1 + n, a mutation its payload's few objects.
const READ_ONE = 1;
const MUTATION = 3;

const PARAMETER_PLACE: Record<string, string> = { query: 'query', param: 'path', header: 'header', json: 'body' };

/** A request whose parameters or body fail their schema: 400 naming each offending field (each unknown member too). */
function invalidRequest(target: string, error: ZodError, c: Context<RestEnv>): Response {
  const place = PARAMETER_PLACE[target] ?? target;
  const pointer = (path: readonly PropertyKey[]) => {
    const inside = pointerOf(
      path.filter((part): part is string | number => typeof part !== 'symbol'),
      'request',
    );
    return place === 'body' ? inside || '/' : `/${place}${inside}`;
  };
  const errors = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ pointer: pointer([...issue.path, key]), detail: `Unknown member "${key.slice(0, 64)}".` }))
      : [{ pointer: pointer(issue.path), detail: issue.message }],
  );
  const [only] = errors;
  const detail =
    errors.length === 1 && only ? `Invalid ${place}: ${only.pointer}: ${only.detail}` : `The request has ${errors.length} invalid fields.`;
  return problem(400, 'BAD_USER_INPUT', detail, { requestId: c.get('state').requestId, errors });
}

/** Refusals thrown by Hono's parts (unreadable JSON, a media type not accepted) as problems. */
function refusalOf(error: HTTPException, c: Context<RestEnv>): Response {
  const requestId = c.get('state').requestId;
  if (error.status === 415) {
    return problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (or application/merge-patch+json for PATCH).', {
      requestId,
    });
  }
  if (error.status === 400) {
    const detail = /json/i.test(error.message)
      ? 'The body is not valid JSON, or its Content-Type is not application/json.'
      : 'The request is malformed.';
    return problem(400, 'BAD_USER_INPUT', detail, { requestId });
  }
  return problem(error.status, 'BAD_REQUEST', 'The request was refused.', { requestId });
}

/**
 * The REST API (`/v1/...`, and the same paths unprefixed): OpenAPI routes over the services GraphQL
 * calls, admitted, limited and made idempotent the same way. Every error is an RFC 9457 problem.
 */
export function createRestApi(deps: RestDeps): OpenAPIHono<RestEnv> {
  const api = new OpenAPIHono<RestEnv>({
    defaultHook: (result, c) => (result.success ? undefined : invalidRequest(result.target, result.error as ZodError, c)),
  });
  const handlers = { ...integrationHandlers(deps), ...inventoryHandlers(deps) };
  const limit: MiddlewareHandler<RestEnv> = bodyWithin(deps.maxBodyBytes);
  const serve = (
    route: RouteConfig,
    operation: Omit<RestOperation, 'operationId'>,
    handler: (c: Context<RestEnv>) => Promise<Response>,
  ) => {
    const middleware = [admitted(deps.admission, { ...operation, operationId: route.operationId ?? route.path }), limit];
    // The handlers answer with their own Responses (problems included), which the typed route cannot describe.
    api.openapi({ ...route, middleware } as typeof route, handler as never);
  };

  serve(
    listIntegrationsRoute,
    { type: 'query', role: 'VIEWER', charge: (c) => ({ points: 1 + requestedLimit(c.req.query('limit')) }) },
    handlers.list,
  );
  serve(getIntegrationRoute, { type: 'query', role: 'VIEWER', charge: () => ({ points: READ_ONE }) }, handlers.get);
  serve(connectIntegrationRoute, { type: 'mutation', role: 'EDITOR', charge: () => ({ points: MUTATION }) }, handlers.connect);
  serve(patchIntegrationRoute, { type: 'mutation', role: 'EDITOR', charge: () => ({ points: MUTATION }) }, handlers.patch);
  serve(revokeIntegrationRoute, { type: 'mutation', role: 'EDITOR', charge: () => ({ points: MUTATION }) }, handlers.revoke);
  serve(
    testIntegrationRoute,
    {
      type: 'mutation',
      role: 'EDITOR',
      charge: (c) => {
        const id = integrationIdOrNull(c.req.param('id'));
        return { points: MUTATION, probes: id ? [id] : [] };
      },
    },
    handlers.test,
  );
  serve(
    createConnectSessionRoute,
    { type: 'mutation', role: 'EDITOR', charge: () => ({ points: MUTATION }) },
    createConnectSessionHandler(deps),
  );
  serve(
    listHealthChecksRoute,
    { type: 'query', role: 'VIEWER', charge: (c) => ({ points: 1 + requestedLimit(c.req.query('limit')) }) },
    handlers.healthChecks,
  );
  serve(syncIntegrationRoute, { type: 'mutation', role: 'EDITOR', charge: () => ({ points: MUTATION }) }, handlers.sync);
  serve(
    listSyncRunsRoute,
    { type: 'query', role: 'VIEWER', charge: (c) => ({ points: 1 + requestedLimit(c.req.query('limit')) }) },
    handlers.syncRuns,
  );
  serve(
    listResourcesRoute,
    { type: 'query', role: 'VIEWER', charge: (c) => ({ points: 1 + requestedLimit(c.req.query('limit')) }) },
    handlers.resources,
  );

  api.onError((error, c) => {
    if (error instanceof HTTPException) return refusalOf(error, c);
    throw error;
  });
  return api;
}
