import { getConnector } from '../../connectors/registry.js';
import { builder } from '../../graphql/builder.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { parsePageArgs } from '../../graphql/pagination.js';
import { HealthCheckRef, selectedHealthCheckColumns } from '../health-check/health-check.schema.js';
import { AuthKindEnum, ProviderRef } from '../provider/provider.schema.js';
import {
  type EndUser,
  type HealthSummary,
  type Integration,
  missingScopes,
  type SyncState,
  type WebhookSettings,
} from './integration.model.js';
import type { IntegrationOrderField, SortDirection } from './integration-list.repository.js';
import { type IntegrationList, listIntegrations } from './integration.service.js';
import { selectedListColumns, selectedNodeColumns } from './integration.selection.js';

export const IntegrationStatusEnum = builder.enumType('IntegrationStatus', {
  values: {
    PENDING_AUTHORIZATION: { description: 'Waiting for the user to finish the OAuth2 authorization at the provider.' },
    ACTIVE: { description: 'Connected and usable.' },
    NEEDS_REAUTH: {
      description:
        'The provider no longer accepts the credential, or refused to renew it (its OAuth2 refresh token); someone must reconnect. ' +
        'After a refused refresh the integration stays NEEDS_REAUTH, even while probes still succeed with the current access token, ' +
        'until a refresh succeeds or it is reconnected.',
    },
    ERROR: { description: 'Connecting failed in a way that needs attention.' },
    REVOKED: { description: 'Access was revoked; the integration is kept for audit only.' },
  } as const,
});

export const IntegrationHealthEnum = builder.enumType('IntegrationHealth', {
  values: {
    HEALTHY: { description: 'The latest probe succeeded.' },
    DEGRADED: {
      description:
        'The latest probe failed in a way that may pass (timeout, rate limit, provider error), ' +
        'or it succeeded but the integration is impaired: required scopes are missing, ' +
        'or its refresh token was refused (status NEEDS_REAUTH) and it works only until its access token expires.',
    },
    UNHEALTHY: { description: 'Probes keep failing.' },
    UNKNOWN: { description: 'Not probed yet, or the last probe no longer describes the credential (it was revoked).' },
  } as const,
});

export const SyncStatusEnum = builder.enumType('SyncStatus', {
  values: {
    QUEUED: { description: 'Waiting for a worker.' },
    RUNNING: { description: 'Listing the provider.' },
    SUCCEEDED: { description: 'The inventory was replaced with what the provider listed.' },
    FAILED: { description: 'The provider could not be listed; the previous inventory stays.' },
  } as const,
});

const HealthSummaryRef = builder.objectRef<HealthSummary>('HealthCheckSummary').implement({
  description: 'The latest health check, kept on the integration so that lists need no extra lookup.',
  fields: (t) => ({
    checkedAt: t.expose('checkedAt', { type: 'DateTime' }),
    ok: t.exposeBoolean('ok'),
    latencyMs: t.exposeInt('latencyMs', { nullable: true }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true }),
    message: t.exposeString('message', { nullable: true }),
  }),
});

const SyncStateRef = builder.objectRef<SyncState>('SyncState').implement({
  fields: (t) => ({
    status: t.expose('status', { type: SyncStatusEnum }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    itemCount: t.exposeInt('itemCount', { nullable: true, description: 'Resources listed; null until the run succeeded.' }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const WebhookRef = builder.objectRef<WebhookSettings>('WebhookConfiguration').implement({
  description: 'Where and what the provider delivers. The signing secret is never returned.',
  fields: (t) => ({
    url: t.exposeString('url', { nullable: true }),
    events: t.exposeStringList('events'),
    enabled: t.exposeBoolean('enabled'),
    secretRotatedAt: t.expose('secretRotatedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const EndUserRef = builder.objectRef<EndUser>('EndUser').implement({
  description: "One of the organization's own users, as a connect session named them (`createConnectSession`).",
  fields: (t) => ({
    id: t.exposeString('id', { description: "The organization's identifier of the user." }),
    displayName: t.exposeString('displayName', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
  }),
});

export const IntegrationRef = builder.objectRef<Integration>('Integration');

builder.node(IntegrationRef, {
  description: "An organization's connection to one provider account.",
  id: { resolve: (integration) => integration.id },
  // A `node` reads only the columns its selected fields need (as a page does), so the load takes the selection.
  loadWithoutCache: (id, context, info) => context.loaders.integrationColumns.load({ id, columns: selectedNodeColumns(info) }),
  fields: (t) => ({
    provider: t.field({ type: ProviderRef, resolve: (integration) => getConnector(integration.provider) }),
    displayName: t.exposeString('displayName'),
    environment: t.exposeString('environment', { nullable: true, description: 'A label such as `production` or `staging`.' }),
    authKind: t.expose('authKind', { type: AuthKindEnum }),
    status: t.expose('status', { type: IntegrationStatusEnum }),
    statusReason: t.exposeString('statusReason', { nullable: true, description: 'Why the status is what it is, when it is not ACTIVE.' }),
    health: t.expose('health', {
      type: IntegrationHealthEnum,
      description:
        'What the latest checks say of the connection, read with `status`: a probe that succeeds while re-authorization is needed ' +
        '(a refused refresh token) is DEGRADED, never HEALTHY.',
    }),
    lastHealthCheck: t.expose('lastHealthCheck', { type: HealthSummaryRef, nullable: true }),
    healthChecks: t.connection(
      {
        type: HealthCheckRef,
        description: 'The history of health checks, newest first.',
        resolve: (integration, args, context, info) =>
          context.loaders.healthCheckPage.load({
            integrationId: integration.id,
            page: parsePageArgs(args, 'healthChecks'),
            scope: 'healthChecks',
            columns: selectedHealthCheckColumns(info),
          }),
      },
      { name: 'HealthCheckConnection' },
      { name: 'HealthCheckEdge' },
    ),
    scopes: t.exposeStringList('requestedScopes', { description: 'The scopes requested from the provider.' }),
    grantedScopes: t.exposeStringList('grantedScopes', { nullable: true, description: 'Null until the provider has reported them.' }),
    missingScopes: t.stringList({ description: 'Requested but not granted.', resolve: missingScopes }),
    lastSync: t.expose('lastSync', { type: SyncStateRef, nullable: true }),
    webhook: t.expose('webhook', { type: WebhookRef }),
    account: t.field({
      type: 'JSONObject',
      nullable: true,
      description: 'The provider account the credential belongs to, as the latest successful probe reported it.',
      resolve: (integration) => integration.account,
    }),
    config: t.field({
      type: 'JSONObject',
      description: 'The provider settings given when connecting (never secret).',
      resolve: (integration) => integration.config,
    }),
    hasCredentials: t.exposeBoolean('hasCredentials', { description: 'Whether a credential is stored (it is never returned).' }),
    credentialExpiresAt: t.expose('credentialExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description:
        "When the OAuth2 access token expires: as the provider's token answer said (`expires_in`), or the lifetime the " +
        'provider documents for its tokens; null when neither says (the expiry is unknown; with a refresh token, the tokens ' +
        'are refreshed by age, see nextRefreshAt) and for other credentials.',
    }),
    nextHealthCheckAt: t.expose('nextHealthCheckAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the background engine next probes this integration; null when no check is scheduled (or they are paused).',
    }),
    healthCheckIntervalSeconds: t.exposeInt('healthCheckIntervalSeconds', {
      nullable: true,
      description: "Seconds between this integration's scheduled probes; null: the gateway's default interval.",
    }),
    healthChecksPaused: t.exposeBoolean('healthChecksPaused', {
      description: 'Whether scheduled probes are paused: none is scheduled, while testIntegration still probes on demand.',
    }),
    nextRefreshAt: t.expose('nextRefreshAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When the background engine next refreshes the OAuth2 tokens: TOKEN_REFRESH_AHEAD_SECONDS before credentialExpiresAt, or ' +
        'once they are TOKEN_REFRESH_MAX_AGE_SECONDS old, whichever comes first; null when no refresh is scheduled (no refresh token).',
    }),
    nextSyncAt: t.expose('nextSyncAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the background engine next syncs the inventory (`resources`); null when it will not.',
    }),
    endUser: t.field({
      type: EndUserRef,
      nullable: true,
      description: 'The end user a connect session connected it for; null when an API key connected it.',
      resolve: (integration) => integration.endUser,
    }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const IntegrationOrderFieldEnum = builder.enumType('IntegrationOrderField', {
  values: {
    CREATED_AT: {},
    UPDATED_AT: {},
    DISPLAY_NAME: { description: 'Case-insensitive.' },
    LAST_CHECKED_AT: { description: 'Never-checked integrations sort as the oldest.' },
  } as const,
});

const OrderDirectionEnum = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

const IntegrationOrder = builder.inputType('IntegrationOrder', {
  fields: (t) => ({
    field: t.field({ type: IntegrationOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, required: true, defaultValue: 'ASC' }),
  }),
});

const IntegrationFilterInput = builder.inputType('IntegrationFilter', {
  description: 'All given conditions must hold. Revoked integrations are left out unless `statuses` asks for them.',
  fields: (t) => ({
    providers: t.stringList({ description: 'Provider keys, e.g. `["github", "gitlab"]`.' }),
    statuses: t.field({ type: [IntegrationStatusEnum] }),
    healths: t.field({ type: [IntegrationHealthEnum] }),
    environment: t.string({ description: 'Exact environment label.' }),
    search: t.string({ description: 'Case-insensitive substring of the display name.' }),
    endUserId: t.string({ description: 'Integrations connected for this end user (`endUser.id`) through connect sessions.' }),
  }),
});

builder.queryField('integration', (t) =>
  t.field({
    type: IntegrationRef,
    nullable: true,
    description: "An integration of the caller's organization by ID; null when there is none.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => context.loaders.integration.load(decodeTypedID(String(args.id), 'Integration')),
  }),
);

builder.queryField('integrations', (t) =>
  t.connection(
    {
      type: IntegrationRef,
      description: "The organization's integrations with their health. `first` or `last` (1 to 100) is required.",
      args: {
        filter: t.arg({ type: IntegrationFilterInput }),
        orderBy: t.arg({ type: IntegrationOrder, defaultValue: { field: 'CREATED_AT', direction: 'ASC' } }),
      },
      resolve: (_root, args, context, info) => {
        const orderBy = (args.orderBy?.field ?? 'CREATED_AT') as IntegrationOrderField;
        const direction = (args.orderBy?.direction ?? 'ASC') as SortDirection;
        const scope = `integrations:${orderBy}:${direction}`;
        return listIntegrations(context.db, context.viewer.organization.id, {
          filter: args.filter ?? {},
          orderBy,
          direction,
          page: parsePageArgs(args, scope),
          scope,
          columns: selectedListColumns(info),
        });
      },
    },
    {
      name: 'IntegrationConnection',
      fields: (t) => ({
        totalCount: t.int({
          description:
            'How many integrations match the filter, across all pages: exact up to 10,000. Above 10,000 it is an estimate ' +
            "from the database's statistics (never below 10,001): counting every match of a large organization would " +
            'take longer than the page itself.',
          resolve: (connection) => (connection as unknown as IntegrationList).totalCount(),
        }),
      }),
    },
    { name: 'IntegrationEdge' },
  ),
);
