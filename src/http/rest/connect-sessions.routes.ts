import { createRoute, z } from '@hono/zod-openapi';
import { COMMON, IDEMPOTENCY_KEY, json, KEYED, problem, security } from './integrations.routes.js';
import { AuthKindSchema } from './rest.schemas.js';

// The REST operation that issues connect sessions (createConnectSession in GraphQL).

export const CreateConnectSessionBodySchema = z
  .strictObject({
    end_user: z
      .strictObject({
        id: z.string().max(400).openapi({ description: "Your product's identifier of the user (1 to 200 characters)." }),
        display_name: z.string().max(400).optional().openapi({ description: 'Shown on the connect page.' }),
        email: z.string().max(400).optional(),
      })
      .openapi({ description: 'The end user the session is for, recorded on the integration it connects.' }),
    allowed_providers: z
      .array(z.string().max(64))
      .max(100)
      .optional()
      .openapi({ description: 'Catalog keys the page offers; every provider when absent.' }),
    allowed_auth_kinds: z
      .array(AuthKindSchema)
      .max(10)
      .optional()
      .openapi({ description: 'Auth kinds the page offers; every kind when absent.' }),
    integration_id: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'Reconnect this integration (its provider only); it keeps its ID.' }),
    environment: z.string().max(200).optional().openapi({ description: 'The environment label the connected integration gets.' }),
    return_url: z
      .string()
      .max(2048)
      .optional()
      .openapi({
        description:
          'Where the browser goes after connecting, with `integration` and `outcome` query parameters, when the page is not a popup. ' +
          'https, or http on a loopback address.',
      }),
    allowed_origins: z
      .array(z.string().max(2048))
      .max(100)
      .optional()
      .openapi({ description: 'Exact origins of the pages that open the connect page as a popup and receive its result message.' }),
    expires_in_seconds: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Lifetime of the token: 60 to 86400 seconds; 1800 when absent.' }),
  })
  .openapi('CreateConnectSession');

export const ConnectSessionAnswerSchema = z
  .object({
    token: z.string().openapi({ description: 'The session token, shown this once. It is not an API key: no API accepts it.' }),
    connect_url: z.string().openapi({ description: "Open this in the end user's browser (popup or redirect): the hosted connect page." }),
    expires_at: z.string().datetime({ offset: true }),
  })
  .openapi('ConnectSession');

export type CreateConnectSessionBody = z.infer<typeof CreateConnectSessionBodySchema>;

export const createConnectSessionRoute = createRoute({
  operationId: 'createConnectSession',
  method: 'post',
  path: '/connect-sessions',
  tags: ['Connect sessions'],
  security,
  summary: 'Issue a connect session for an end user',
  description:
    'A short-lived, single-purpose token that opens the hosted connect page, where the end user connects a provider ' +
    'within the given limits, without an API key. It works until it expires or a connection succeeds. Requires EDITOR.',
  request: {
    headers: IDEMPOTENCY_KEY,
    body: { required: true, content: { 'application/json': { schema: CreateConnectSessionBodySchema } } },
  },
  responses: {
    201: json(ConnectSessionAnswerSchema, 'The session: send the end user to `connect_url`.'),
    ...COMMON,
    404: problem('`integration_id` names no integration.'),
    ...KEYED,
  },
});
