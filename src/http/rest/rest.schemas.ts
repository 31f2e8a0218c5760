import { z } from '@hono/zod-openapi';

// The REST API's bodies and parameters: the same schemas validate requests and print the OpenAPI document
// (openapi-document.ts). Fields are snake_case, enums lowercase, times RFC 3339 (REST conventions); IDs
// are the GraphQL API's global IDs, so a client may mix both APIs.

const time = () => z.string().datetime({ offset: true });
const id = (what: string) =>
  z.string().openapi({ description: `The global ID of ${what} (the same as in GraphQL).`, example: 'SW50ZWdyYXRpb246…' });

export const AuthKindSchema = z.enum(['oauth2', 'api_token', 'basic']).openapi('AuthKind');
export const StatusSchema = z.enum(['pending_authorization', 'active', 'needs_reauth', 'error', 'revoked']).openapi('IntegrationStatus');
export const HealthSchema = z.enum(['healthy', 'degraded', 'unhealthy', 'unknown']).openapi('IntegrationHealth');

export const HealthCheckSchema = z
  .object({
    id: id('the health check'),
    integration_id: id('the integration'),
    checked_at: time(),
    ok: z.boolean(),
    http_status: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    error_code: z.string().nullable(),
    message: z.string().nullable(),
    granted_scopes: z.array(z.string()).nullable(),
    missing_scopes: z.array(z.string()),
  })
  .openapi('HealthCheck', { description: 'One probe of an integration, as recorded in its history.' });

export const IntegrationSchema = z
  .object({
    id: id('the integration'),
    provider: z.string().openapi({ description: 'A catalog key, e.g. `github`.' }),
    display_name: z.string(),
    environment: z.string().nullable(),
    auth_kind: AuthKindSchema,
    status: StatusSchema,
    status_reason: z.string().nullable(),
    health: HealthSchema,
    last_health_check: z
      .object({
        checked_at: time(),
        ok: z.boolean(),
        latency_ms: z.number().int().nullable(),
        http_status: z.number().int().nullable(),
        message: z.string().nullable(),
      })
      .nullable(),
    scopes: z.object({
      requested: z.array(z.string()),
      granted: z.array(z.string()).nullable().openapi({ description: 'Null until the provider has reported them.' }),
      missing: z.array(z.string()).openapi({ description: 'Requested but not granted.' }),
    }),
    last_sync: z
      .object({
        status: z.enum(['queued', 'running', 'succeeded', 'failed']),
        started_at: time().nullable(),
        finished_at: time().nullable(),
        item_count: z.number().int().nullable().openapi({ description: 'Resources listed; null until the run succeeded.' }),
        error: z.string().nullable(),
      })
      .nullable(),
    webhook: z.object({
      url: z.string().nullable(),
      events: z.array(z.string()),
      enabled: z.boolean(),
      secret_rotated_at: time().nullable(),
    }),
    account: z.record(z.string(), z.unknown()).nullable(),
    config: z.record(z.string(), z.unknown()),
    has_credentials: z.boolean().openapi({ description: 'Whether a credential is stored (it is never returned).' }),
    credential_expires_at: time()
      .nullable()
      .openapi({
        description:
          "When the OAuth2 access token expires: as the provider's token answer said, or the lifetime the provider documents; " +
          'null when neither says (the tokens are then refreshed by age) and for other credentials.',
      }),
    next_health_check_at: time()
      .nullable()
      .openapi({ description: 'When the background engine next probes the integration; null when none is scheduled (or paused).' }),
    next_sync_at: time()
      .nullable()
      .openapi({ description: 'When the background engine next syncs the inventory; null when it will not.' }),
    next_refresh_at: time()
      .nullable()
      .openapi({
        description:
          'When the background engine next refreshes the OAuth2 tokens: ahead of their expiry, or at their maximum age, ' +
          'whichever comes first; null when it will not.',
      }),
    health_check_interval_seconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Seconds between the integration's scheduled probes; null: the gateway's default interval." }),
    health_checks_paused: z
      .boolean()
      .openapi({ description: 'Scheduled probes are paused: none is scheduled, while `POST …/test` still probes on demand.' }),
    end_user: z
      .object({ id: z.string(), display_name: z.string().nullable(), email: z.string().nullable() })
      .nullable()
      .openapi({ description: 'The end user a connect session connected it for; null when an API key connected it.' }),
    revoked_at: time().nullable(),
    created_at: time(),
    updated_at: time(),
  })
  .openapi('Integration', { description: "An organization's connection to one provider account." });

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ description: '`about:blank`: the status names the kind of problem, `code` the problem itself.' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ description: "The same code as GraphQL's `userErrors[].code` or `extensions.code`." }),
    instance: z.string().optional().openapi({ description: 'The request id.' }),
    errors: z
      .array(z.object({ pointer: z.string().openapi({ description: 'JSON Pointer to the offending field.' }), detail: z.string() }))
      .optional(),
  })
  .openapi('Problem', { description: 'An RFC 9457 problem: every error of the REST API.' });

export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: 'Page size, 1 to 100.' }),
  cursor: z
    .string()
    .max(1024)
    .optional()
    .openapi({ description: '`next_cursor` of the previous page (opaque; the same keyset cursors as GraphQL).' }),
  provider: z.string().max(200).optional().openapi({ description: 'Provider keys, comma-separated.' }),
  status: z
    .string()
    .max(400)
    .optional()
    .openapi({ description: 'Statuses, comma-separated; revoked integrations are listed only when asked for.' }),
  health: z.string().max(200).optional().openapi({ description: 'Healths, comma-separated.' }),
  environment: z.string().max(200).optional(),
  search: z.string().max(200).optional().openapi({ description: 'Case-insensitive substring of the display name.' }),
  end_user_id: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: 'Integrations connected for this end user (`end_user.id`) through connect sessions.' }),
  order: z
    .enum([
      'created_at',
      '-created_at',
      'updated_at',
      '-updated_at',
      'display_name',
      '-display_name',
      'last_checked_at',
      '-last_checked_at',
    ])
    .default('created_at')
    .openapi({ description: 'Sort field; `-` for descending.' }),
  include: z.enum(['total_count']).optional().openapi({
    description:
      '`total_count` adds how many integrations match, across all pages: exact up to 10,000, an estimate above (never below 10,001).',
  }),
});

export const IntegrationListSchema = z
  .object({
    data: z.array(IntegrationSchema),
    next_cursor: z.string().nullable(),
    has_more: z.boolean(),
    total_count: z.number().int().optional(),
  })
  .openapi('IntegrationList');

export const HealthCheckQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: 'Page size, 1 to 100.' }),
  cursor: z.string().max(1024).optional().openapi({ description: '`next_cursor` of the previous page.' }),
});

export const HealthCheckListSchema = z
  .object({ data: z.array(HealthCheckSchema), next_cursor: z.string().nullable(), has_more: z.boolean() })
  .openapi('HealthCheckList');

export const IdParamSchema = z.object({
  id: z
    .string()
    .max(200)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'The global ID of the integration.' }),
});

const CredentialsSchema = z
  .strictObject({
    token: z.string().max(8192).optional(),
    username: z.string().max(1024).optional(),
    password: z.string().max(8192).optional(),
  })
  .openapi('Credentials', { description: 'For api_token (`token`) or basic (`username`, `password`). Stored encrypted, never returned.' });

/** The scheduled-probe settings a connect or a patch may carry. */
const SCHEDULE_SETTINGS = {
  health_check_interval_seconds: z
    .number()
    .int()
    .nullable()
    .optional()
    .openapi({ description: "Seconds between scheduled health probes, 60 to 86400; `null`: the gateway's default." }),
  health_checks_paused: z.boolean().optional().openapi({ description: 'Pause (true) or resume (false) scheduled health probes.' }),
};

export const ConnectBodySchema = z
  .strictObject({
    provider: z.string().max(64),
    display_name: z.string().max(400),
    environment: z.string().max(200).nullable().optional(),
    auth_kind: AuthKindSchema,
    config: z.record(z.string(), z.unknown()).optional(),
    scopes: z.array(z.string().max(200)).max(100).optional(),
    credentials: CredentialsSchema.optional(),
    return_url: z.string().max(2048).optional().openapi({ description: 'oauth2: where the browser returns after authorizing.' }),
    integration_id: z.string().max(200).optional().openapi({ description: 'Reconnect this integration; it keeps its ID.' }),
    ...SCHEDULE_SETTINGS,
  })
  .openapi('ConnectIntegration');

export const ConnectAnswerSchema = z
  .object({
    data: IntegrationSchema,
    authorization_url: z
      .string()
      .nullable()
      .openapi({ description: 'oauth2: send the user here to authorize (valid for 10 minutes, once).' }),
  })
  .openapi('ConnectedIntegration');

export const PatchBodySchema = z
  .strictObject({
    refresh_tokens: z.boolean().optional().openapi({ description: 'Refresh the OAuth2 access token now.' }),
    credentials: CredentialsSchema.optional().openapi({ description: 'Replace the credential; probed before it is stored.' }),
    webhook: z
      .strictObject({
        url: z.string().max(2048).nullable().optional().openapi({ description: '`null` removes the URL.' }),
        events: z.array(z.string().max(200)).max(100).optional(),
        enabled: z.boolean().optional(),
        rotate_secret: z.boolean().optional().openapi({ description: 'Issue a new signing secret, returned once.' }),
      })
      .optional(),
    ...SCHEDULE_SETTINGS,
  })
  .openapi('IntegrationPatch', { description: 'JSON Merge Patch (RFC 7396): absent members stay as they are.' });

export const PatchAnswerSchema = z
  .object({
    data: IntegrationSchema,
    webhook_signing_secret: z.string().nullable().openapi({ description: 'Returned once, when rotated.' }),
  })
  .openapi('PatchedIntegration');

export const RevokeAnswerSchema = z
  .object({ data: IntegrationSchema, revoked_at_provider: z.boolean(), provider_message: z.string().nullable() })
  .openapi('RevokedIntegration');

export const TestAnswerSchema = z.object({ data: IntegrationSchema, health_check: HealthCheckSchema }).openapi('TestedIntegration');

export const ResourceSchema = z
  .object({
    kind: z.string().openapi({ description: 'What it is at the provider, e.g. `repository` (GitHub) or `project` (GitLab, Jira).' }),
    external_id: z.string().openapi({ description: "The provider's id of it." }),
    name: z.string(),
    url: z.string().nullable().openapi({ description: 'Where the provider shows it.' }),
    metadata: z.record(z.string(), z.unknown()).openapi({ description: 'A few of its properties, as the provider describes them.' }),
    synced_at: time().openapi({ description: 'When the sync that listed it ran.' }),
  })
  .openapi('IntegrationResource', {
    description: "Something the integration's credential reaches, as its latest successful inventory sync listed it.",
  });

export const ResourceQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: 'Page size, 1 to 100.' }),
  cursor: z.string().max(1024).optional().openapi({ description: '`next_cursor` of the previous page (the same cursors as GraphQL).' }),
  kind: z.string().max(200).optional().openapi({ description: 'Only resources of this kind.' }),
  search: z.string().max(200).optional().openapi({ description: 'Case-insensitive substring of the name.' }),
});

export const ResourceListSchema = z
  .object({ data: z.array(ResourceSchema), next_cursor: z.string().nullable(), has_more: z.boolean() })
  .openapi('IntegrationResourceList');

export const SyncRunSchema = z
  .object({
    id: id('the sync run'),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    trigger: z.enum(['schedule', 'request']).openapi({ description: '`schedule`: the background engine; `request`: `POST …/sync`.' }),
    queued_at: time(),
    started_at: time().nullable(),
    finished_at: time().nullable(),
    item_count: z.number().int().nullable().openapi({ description: 'Resources listed; null until the run succeeded.' }),
    truncated: z.boolean().openapi({ description: 'The provider listed more than SYNC_MAX_ITEMS; the rest was not stored.' }),
    error_code: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi('SyncRun', { description: 'One inventory sync of an integration.' });

export const SyncRunListSchema = z
  .object({ data: z.array(SyncRunSchema), next_cursor: z.string().nullable(), has_more: z.boolean() })
  .openapi('SyncRunList');

export const SyncAnswerSchema = z
  .object({
    data: IntegrationSchema,
    sync_run: SyncRunSchema.openapi({ description: 'The run queued, or the one already queued or running.' }),
  })
  .openapi('SyncRequested');

export type ListQuery = z.infer<typeof ListQuerySchema>;
export type ResourceQuery = z.infer<typeof ResourceQuerySchema>;
export type RestResource = z.infer<typeof ResourceSchema>;
export type RestSyncRun = z.infer<typeof SyncRunSchema>;
export type HealthCheckQuery = z.infer<typeof HealthCheckQuerySchema>;
export type ConnectBody = z.infer<typeof ConnectBodySchema>;
export type PatchBody = z.infer<typeof PatchBodySchema>;
export type RestIntegration = z.infer<typeof IntegrationSchema>;
export type RestHealthCheck = z.infer<typeof HealthCheckSchema>;
