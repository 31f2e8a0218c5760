import { createRoute, z } from '@hono/zod-openapi';
import {
  ConnectAnswerSchema,
  ConnectBodySchema,
  HealthCheckListSchema,
  HealthCheckQuerySchema,
  IdParamSchema,
  IntegrationListSchema,
  IntegrationSchema,
  ListQuerySchema,
  PatchAnswerSchema,
  PatchBodySchema,
  ProblemSchema,
  ResourceListSchema,
  ResourceQuerySchema,
  RevokeAnswerSchema,
  SyncAnswerSchema,
  SyncRunListSchema,
  TestAnswerSchema,
} from './rest.schemas.js';

// The REST operations on integrations, as OpenAPI route definitions: the router validates requests with
// them and the OpenAPI document is printed from them.

export const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });

const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit': {
    description: 'Cost points of the budget nearest to exhaustion, per window.',
    schema: { type: 'integer' as const },
  },
  'x-ratelimit-remaining': { description: 'Points left in that budget.', schema: { type: 'integer' as const } },
  'x-ratelimit-reset': { description: 'When that budget refills (Unix seconds).', schema: { type: 'integer' as const } },
};

/** The answers every operation may give besides its own. */
export const COMMON = {
  400: problem('The request is malformed: a parameter or body member of the wrong type, unknown, or out of range.'),
  401: problem('No valid API key: send `Authorization: Bearer <API key>`.'),
  403: problem("The API key's role does not allow this operation."),
  429: {
    ...problem('A rate-limit budget is spent; retry after `Retry-After` seconds.'),
    headers: { 'retry-after': { description: 'Seconds to wait.', schema: { type: 'integer' as const } } },
  },
};

export const IDEMPOTENCY_KEY = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .openapi({
      description:
        'Makes the request safe to retry: the first answer is stored for 24 hours and replayed byte for byte ' +
        '(with `Idempotent-Replayed: true`).',
    }),
});

/** The answers of an operation that takes an Idempotency-Key. */
export const KEYED = {
  409: problem('A request with this Idempotency-Key is still running (IDEMPOTENCY_KEY_IN_USE), or the state conflicts.'),
  422: problem('The Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED), or an input value is invalid (VALIDATION).'),
  502: problem('The provider failed or could not be reached; nothing was changed but health.'),
};

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
  headers: RATE_LIMIT_HEADERS,
});

const tags = ['Integrations'];
export const security = [{ bearer: [] }];

export const listIntegrationsRoute = createRoute({
  operationId: 'listIntegrations',
  method: 'get',
  path: '/integrations',
  tags,
  security,
  summary: "The organization's integrations with their health",
  description: 'Keyset pages: follow `next_cursor` while `has_more`. Requires VIEWER.',
  request: { query: ListQuerySchema },
  responses: { 200: json(IntegrationListSchema, 'A page of integrations.'), ...COMMON },
});

export const getIntegrationRoute = createRoute({
  operationId: 'getIntegration',
  method: 'get',
  path: '/integrations/{id}',
  tags,
  security,
  summary: 'One integration with its scopes and last sync',
  description: "Requires VIEWER. Another organization's integration is 404.",
  request: { params: IdParamSchema },
  responses: { 200: json(IntegrationSchema, 'The integration.'), ...COMMON, 404: problem('No such integration.') },
});

export const connectIntegrationRoute = createRoute({
  operationId: 'connectIntegration',
  method: 'post',
  path: '/integrations',
  tags,
  security,
  summary: 'Connect a provider',
  description:
    'A token or basic credential is probed before anything is stored (201, `Location`); ' +
    'oauth2 answers 202 with `authorization_url`. Requires EDITOR.',
  request: {
    headers: IDEMPOTENCY_KEY,
    body: { required: true, content: { 'application/json': { schema: ConnectBodySchema } } },
  },
  responses: {
    201: {
      ...json(ConnectAnswerSchema, 'Connected.'),
      headers: { ...RATE_LIMIT_HEADERS, location: { description: 'The integration.', schema: { type: 'string' as const } } },
    },
    202: json(ConnectAnswerSchema, 'OAuth2 pending: send the user to `authorization_url`.'),
    ...COMMON,
    404: problem('`integration_id` names no integration.'),
    ...KEYED,
  },
});

export const patchIntegrationRoute = createRoute({
  operationId: 'updateIntegration',
  method: 'patch',
  path: '/integrations/{id}',
  tags,
  security,
  summary: 'Refresh tokens, replace the credential, or change the webhook',
  description: 'JSON Merge Patch: members left out stay as they are. Requires EDITOR.',
  request: {
    params: IdParamSchema,
    headers: IDEMPOTENCY_KEY,
    body: {
      required: true,
      content: { 'application/merge-patch+json': { schema: PatchBodySchema }, 'application/json': { schema: PatchBodySchema } },
    },
  },
  responses: { 200: json(PatchAnswerSchema, 'The updated integration.'), ...COMMON, 404: problem('No such integration.'), ...KEYED },
});

export const revokeIntegrationRoute = createRoute({
  operationId: 'revokeIntegration',
  method: 'delete',
  path: '/integrations/{id}',
  tags,
  security,
  summary: 'Revoke at the provider and delete the secret',
  description:
    'The integration stays as a revoked record, returned with 200; ' +
    'revoking it again answers the same record (`revoked_at_provider` false). Requires EDITOR.',
  request: { params: IdParamSchema, headers: IDEMPOTENCY_KEY },
  responses: { 200: json(RevokeAnswerSchema, 'The revoked integration.'), ...COMMON, 404: problem('No such integration.'), ...KEYED },
});

export const testIntegrationRoute = createRoute({
  operationId: 'testIntegration',
  method: 'post',
  path: '/integrations/{id}/test',
  tags,
  security,
  summary: 'Probe the provider and record a health check',
  description: 'Requires EDITOR. Each integration may be tested a limited number of times per window.',
  request: { params: IdParamSchema, headers: IDEMPOTENCY_KEY },
  responses: {
    200: json(TestAnswerSchema, 'The check, and the integration after it.'),
    ...COMMON,
    404: problem('No such integration.'),
    ...KEYED,
  },
});

export const listHealthChecksRoute = createRoute({
  operationId: 'listHealthChecks',
  method: 'get',
  path: '/integrations/{id}/health-checks',
  tags,
  security,
  summary: "An integration's health checks, newest first",
  description: 'Keyset pages, as for the list of integrations. Requires VIEWER.',
  request: { params: IdParamSchema, query: HealthCheckQuerySchema },
  responses: { 200: json(HealthCheckListSchema, 'A page of health checks.'), ...COMMON, 404: problem('No such integration.') },
});

export const listResourcesRoute = createRoute({
  operationId: 'listIntegrationResources',
  method: 'get',
  path: '/integrations/{id}/resources',
  tags,
  security,
  summary: "What the integration's credential reaches, by name",
  description:
    'As its latest successful inventory sync listed it (repositories, projects, channels, services, monitors, groups...). ' +
    'Keyset pages, filtered by `kind` and `search`. Requires VIEWER.',
  request: { params: IdParamSchema, query: ResourceQuerySchema },
  responses: { 200: json(ResourceListSchema, 'A page of resources.'), ...COMMON, 404: problem('No such integration.') },
});

export const listSyncRunsRoute = createRoute({
  operationId: 'listSyncRuns',
  method: 'get',
  path: '/integrations/{id}/sync-runs',
  tags,
  security,
  summary: "An integration's inventory syncs, newest first",
  description: 'Keyset pages, as for the list of integrations. Requires VIEWER.',
  request: { params: IdParamSchema, query: HealthCheckQuerySchema },
  responses: { 200: json(SyncRunListSchema, 'A page of sync runs.'), ...COMMON, 404: problem('No such integration.') },
});

export const syncIntegrationRoute = createRoute({
  operationId: 'syncIntegration',
  method: 'post',
  path: '/integrations/{id}/sync',
  tags,
  security,
  summary: 'Sync the inventory now',
  description:
    'Queues an inventory sync and answers at once (202) with the queued run, or the run already queued or running; ' +
    'its progress shows on `last_sync` and `GET …/sync-runs`. Requires EDITOR.',
  request: { params: IdParamSchema, headers: IDEMPOTENCY_KEY },
  responses: {
    202: json(SyncAnswerSchema, 'The sync is queued (or already was).'),
    ...COMMON,
    404: problem('No such integration.'),
    ...KEYED,
  },
});
