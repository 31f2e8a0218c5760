import { OpenAPIHono } from '@hono/zod-openapi';
import { SERVICE_ERROR_STATUS } from './problem.js';
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
import { createConnectSessionRoute } from './connect-sessions.routes.js';

/** Every REST route, in the order the document lists them. */
const ROUTES = [
  listIntegrationsRoute,
  connectIntegrationRoute,
  getIntegrationRoute,
  patchIntegrationRoute,
  revokeIntegrationRoute,
  testIntegrationRoute,
  listHealthChecksRoute,
  syncIntegrationRoute,
  listSyncRunsRoute,
  listResourcesRoute,
  createConnectSessionRoute,
];

const DESCRIPTION = `The integrations gateway's REST API: the same operations, services, API keys, roles, rate limits and
Idempotency-Key semantics as its GraphQL API, and the same opaque global IDs, so a client may mix both.

- Authenticate with \`Authorization: Bearer <API key>\`, or, from a frontend, a signed-in user's token from the
  organization's identity provider (a JWT). VIEWER reads; EDITOR and ADMIN also write.
- Fields are snake_case, enums lowercase, times RFC 3339.
- Every error is an RFC 9457 \`application/problem+json\` with \`code\` (the same codes as GraphQL's
  \`userErrors[].code\` and \`extensions.code\`) and, when fields are at fault, \`errors[]\` with JSON Pointers.
- Every answer carries \`x-ratelimit-limit\`, \`x-ratelimit-remaining\` and \`x-ratelimit-reset\` when rate limits are on;
  a spent budget is \`429\` with \`Retry-After\`.
- \`POST\`, \`PATCH\` and \`DELETE\` accept \`Idempotency-Key\`: the first answer is replayed byte for byte with
  \`Idempotent-Replayed: true\`; \`409\` while the first request runs, \`422\` when the key was used for another request.
- The same paths are served unprefixed (\`/integrations\`) as under \`/v1\`.

Problem codes and their statuses:

| code | status |
|---|---|
| BAD_USER_INPUT, INVALID_ID, INVALID_CURSOR, IDEMPOTENCY_KEY_INVALID | 400 |
| UNAUTHENTICATED | 401 |
${Object.entries(SERVICE_ERROR_STATUS)
  .map(([code, status]) => `| ${code} | ${status} |`)
  .join('\n')}
| IDEMPOTENCY_KEY_IN_USE | 409 |
| IDEMPOTENCY_KEY_REUSED | 422 |
| PAYLOAD_TOO_LARGE | 413 |
| UNSUPPORTED_MEDIA_TYPE | 415 |
| METHOD_NOT_ALLOWED | 405 |
| RATE_LIMITED | 429 |`;

let printed: object | undefined;

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route definitions and schemas that
 * validate its requests (never written by hand); served at /openapi.json and committed as openapi.json.
 */
export function openApiDocument(): object {
  if (printed) return printed;
  const registry = new OpenAPIHono();
  registry.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: "An API key of the gateway (`igw_…`), or a JWT from the organization's identity provider (when configured).",
  });
  for (const route of ROUTES) registry.openAPIRegistry.registerPath(route);
  printed = registry.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'Integrations gateway REST API', version: '1.0.0', description: DESCRIPTION },
    servers: [{ url: '/v1' }],
    tags: [
      { name: 'Integrations', description: "An organization's connections to its providers." },
      { name: 'Connect sessions', description: 'Short-lived tokens that open the hosted connect page for an end user.' },
    ],
  });
  return printed;
}

/** The document as committed: two-space JSON with a final newline. */
export function printOpenApiDocument(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}
