import type { GatewayContext } from '../../context.js';
import type { AuthKind } from '../../db/database.js';
import { builder } from '../../graphql/builder.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { idempotencyClaimOf } from '../../http/idempotency/idempotency.plugin.js';
import { asPayload, UserError } from '../../graphql/user-error.js';
import { HealthCheckRef } from '../health-check/health-check.schema.js';
import { AuthKindEnum } from '../provider/provider.schema.js';
import { connectIntegration } from './connect.service.js';
import type { MutationActor } from './integration.audit.js';
import { IntegrationRef } from './integration.schema.js';
import { refreshIntegration } from './refresh.service.js';
import { requestArrivedAt } from '../../http/request-clock.js';
import { revokeIntegration } from './revoke.service.js';
import { testIntegration } from './test.service.js';

/** `field`: the mutation's response key, which tells apart several mutations of one idempotent request. */
export function actorOf(context: GatewayContext, field: string): MutationActor {
  const claim = idempotencyClaimOf(context);
  return {
    viewer: context.viewer,
    requestId: context.requestId,
    resume: claim ? { key: claim.key, field, since: claim.claimedAt, earlierAttempt: claim.takenOver } : null,
    startedAt: requestArrivedAt(context) ?? new Date(),
  };
}

const CredentialsInput = builder.inputType('CredentialsInput', {
  description: 'A credential for API_TOKEN (`token`) or BASIC (`username`, `password`). Stored encrypted, never returned.',
  fields: (t) => ({ token: t.string(), username: t.string(), password: t.string() }),
});

const OAuth2ConnectInput = builder.inputType('OAuth2ConnectInput', {
  fields: (t) => ({
    returnUrl: t.string({
      description:
        'Where the browser returns after authorizing, with `integration`, `outcome` and `error` query parameters. ' +
        "Absent: the gateway's own page `/oauth/done`, which shows the outcome.",
    }),
  }),
});

builder.relayMutationField(
  'connectIntegration',
  {
    inputFields: (t) => ({
      provider: t.string({ required: true, description: 'A catalog key, e.g. `github`.' }),
      displayName: t.string({ required: true }),
      environment: t.string({ description: 'A label such as `production` or `staging`.' }),
      authKind: t.field({ type: AuthKindEnum, required: true }),
      config: t.field({ type: 'JSONObject', description: "The provider's settings (see `Provider.configFields`)." }),
      scopes: t.stringList({ description: "Scopes to request; the provider's default scopes when absent." }),
      credentials: t.field({ type: CredentialsInput, description: 'For API_TOKEN and BASIC.' }),
      oauth2: t.field({ type: OAuth2ConnectInput, description: 'For OAUTH2.' }),
      integrationId: t.id({ description: 'Reconnect this integration (e.g. after NEEDS_REAUTH); it keeps its ID.' }),
      healthCheckIntervalSeconds: t.int({
        description: "Seconds between scheduled health probes of this integration, 60 to 86400; null: the gateway's default.",
      }),
      healthChecksPaused: t.boolean({ description: 'Pause (true) or resume (false) scheduled health probes.' }),
    }),
  },
  {
    description:
      'Connects a provider: a token or basic credential is probed before anything is stored; ' +
      'OAUTH2 returns an authorization URL. Requires EDITOR.',
    authScopes: { editor: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          connectIntegration(context.services, context.db, actorOf(context, String(info.path.key)), {
            ...input,
            authKind: input.authKind as AuthKind,
            returnUrl: input.oauth2?.returnUrl ?? null,
            integrationId: input.integrationId == null ? null : decodeTypedID(String(input.integrationId), 'Integration'),
          }),
        { integration: null, authorizationUrl: null },
      ),
  },
  {
    outputFields: (t) => ({
      integration: t.expose('integration', { type: IntegrationRef, nullable: true }),
      authorizationUrl: t.exposeString('authorizationUrl', {
        nullable: true,
        description: 'For OAUTH2: send the user here to authorize. Valid for 10 minutes, once.',
      }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

const WebhookInput = builder.inputType('WebhookConfigurationInput', {
  description: 'Absent fields stay as they are; `url: null` removes the URL.',
  fields: (t) => ({
    url: t.string(),
    events: t.stringList(),
    enabled: t.boolean(),
    rotateSecret: t.boolean({ description: 'Issue a new signing secret, returned once in the payload.' }),
  }),
});

builder.relayMutationField(
  'refreshIntegration',
  {
    inputFields: (t) => ({
      id: t.id({ required: true }),
      refreshTokens: t.boolean({ description: 'Refresh the OAuth2 access token now.' }),
      credentials: t.field({
        type: CredentialsInput,
        description: 'Replace the API token or basic credential; probed before it is stored.',
      }),
      webhook: t.field({ type: WebhookInput }),
      healthCheckIntervalSeconds: t.int({
        description: "Seconds between scheduled health probes of this integration, 60 to 86400; null: the gateway's default.",
      }),
      healthChecksPaused: t.boolean({ description: 'Pause (true) or resume (false) scheduled health probes.' }),
    }),
  },
  {
    description:
      'Refreshes OAuth2 tokens, replaces a credential, updates the webhook configuration, or the schedule of health probes. ' +
      'Requires EDITOR.',
    authScopes: { editor: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          refreshIntegration(
            context.services,
            context.db,
            actorOf(context, String(info.path.key)),
            { ...input, id: decodeTypedID(String(input.id), 'Integration') },
            { production: context.services.production },
          ),
        { integration: null, webhookSigningSecret: null },
      ),
  },
  {
    outputFields: (t) => ({
      integration: t.expose('integration', { type: IntegrationRef, nullable: true }),
      webhookSigningSecret: t.exposeString('webhookSigningSecret', {
        nullable: true,
        description: 'The new signing secret when `rotateSecret` was asked. Returned this once, never again.',
      }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

builder.relayMutationField(
  'revokeIntegration',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description:
      'Revokes access: at the provider where it can, and the stored secret at once. ' +
      'The integration stays as a REVOKED record. Requires EDITOR.',
    authScopes: { editor: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          revokeIntegration(
            context.services,
            context.db,
            actorOf(context, String(info.path.key)),
            decodeTypedID(String(input.id), 'Integration'),
          ),
        {
          integration: null,
          revokedAtProvider: null,
          providerMessage: null,
        },
      ).then((payload) => ({ ...payload, revokedAtProvider: payload.revokedAtProvider ?? false })),
  },
  {
    outputFields: (t) => ({
      integration: t.expose('integration', { type: IntegrationRef, nullable: true }),
      revokedAtProvider: t.exposeBoolean('revokedAtProvider', {
        description: 'Whether the provider confirmed the credential is revoked there.',
      }),
      providerMessage: t.exposeString('providerMessage', {
        nullable: true,
        description: 'Why the provider did not confirm, when it did not.',
      }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

builder.relayMutationField(
  'testIntegration',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description: "Probes the provider with the integration's credential and records the health check. Requires EDITOR.",
    authScopes: { editor: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          testIntegration(
            context.services,
            context.db,
            actorOf(context, String(info.path.key)),
            decodeTypedID(String(input.id), 'Integration'),
          ),
        { integration: null, healthCheck: null },
      ),
  },
  {
    outputFields: (t) => ({
      integration: t.expose('integration', { type: IntegrationRef, nullable: true }),
      healthCheck: t.expose('healthCheck', { type: HealthCheckRef, nullable: true }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);
