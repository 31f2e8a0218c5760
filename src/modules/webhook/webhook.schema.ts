import { builder } from '../../graphql/builder.js';
import { decodeTypedID, encodeGlobalID } from '../../graphql/global-id.js';
import { parsePageArgs, toConnection, withCursorCheck, cursorKeyShapes } from '../../graphql/pagination.js';
import { asPayload, UserError } from '../../graphql/user-error.js';
import { hasRole } from '../api-key/viewer.js';
import { actorOf } from '../integration/integration.mutations.js';
import { IntegrationRef } from '../integration/integration.schema.js';
import { findIntegrationEndpointRow, pageEndpoints, toWebhookEndpoint, type WebhookEndpoint } from './webhook-endpoint.repository.js';
import { createEndpoint, deleteEndpoint, updateEndpoint } from './webhook-endpoint.service.js';
import {
  findDeliveriesByIds,
  pageDeliveries,
  type WebhookDelivery,
  type WebhookDeliveryAttempt,
} from './webhook-delivery-log.repository.js';
import { redeliverEvent, sendTestEvent } from './webhook-messages.service.js';

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { description: 'Not delivered yet: the next attempt is due at `nextAttemptAt`.' },
    SUCCEEDED: { description: 'The receiver answered 2xx.' },
    FAILED: { description: 'Given up: every attempt of the retry schedule failed, or the endpoint was disabled.' },
  } as const,
});

const DeliveryKindEnum = builder.enumType('WebhookDeliveryKind', {
  values: {
    EVENT: { description: 'An event the endpoint matched when it was published.' },
    REDELIVERY: { description: 'An event sent again by `redeliverEvent`.' },
    TEST: { description: 'A `webhook_endpoint.test` message from `sendTestEvent`.' },
  } as const,
});

const EndpointScopeEnum = builder.enumType('WebhookEndpointScope', {
  values: {
    ORGANIZATION: { description: 'Organization-wide endpoints (createWebhookEndpoint).' },
    INTEGRATION: { description: "Integrations' webhooks (refreshIntegration's `webhook`)." },
  } as const,
});

const AttemptRef = builder.objectRef<WebhookDeliveryAttempt>('WebhookDeliveryAttempt').implement({
  description: 'One try at delivering a message.',
  fields: (t) => ({
    attempt: t.exposeInt('attempt', { description: 'Its number, from 1.' }),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true, description: "The answer's status; null when none arrived." }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true, description: "Until the answer's headers, or the failure." }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed; null when delivered.' }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: "The receiver's answer, cut at 4 KB." }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt was scheduled after this one failed; null when delivered or given up.',
    }),
  }),
});

export const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint');
export const WebhookDeliveryRef = builder.objectRef<WebhookDelivery>('WebhookDelivery');

builder.node(WebhookDeliveryRef, {
  description: 'A message for one webhook endpoint, and every attempt at delivering it.',
  id: { resolve: (delivery) => delivery.id },
  loadMany: async (ids, context) => {
    if (!hasRole(context.viewer, 'ADMIN')) return ids.map(() => null);
    const found = new Map((await findDeliveriesByIds(context.db, context.viewer.organization.id, ids)).map((d) => [d.id, d]));
    return ids.map((id) => found.get(id) ?? null);
  },
  fields: (t) => ({
    endpoint: t.field({
      type: WebhookEndpointRef,
      resolve: async (delivery, _args, context) => {
        const endpoint = await context.loaders.webhookEndpoint.load(delivery.endpointId);
        if (!endpoint) throw new Error('a delivery without its endpoint');
        return endpoint;
      },
    }),
    webhookId: t.exposeString('messageId', { description: "The `webhook-id` header: the event's id, the same on every attempt." }),
    eventId: t.exposeString('eventId', { nullable: true, description: 'The event delivered; null for a test message.' }),
    eventType: t.exposeString('eventType'),
    kind: t.expose('kind', { type: DeliveryKindEnum }),
    status: t.expose('status', { type: DeliveryStatusEnum }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'While PENDING: when it is tried next.' }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    lastHttpStatus: t.exposeInt('lastHttpStatus', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    payload: t.exposeString('payload', { description: 'The body as sent (JSON): the same on every attempt.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    attempts: t.field({
      type: [AttemptRef],
      description: 'Every attempt, oldest first.',
      resolve: (delivery, _args, context) => context.loaders.webhookAttempts.load(delivery.id),
    }),
  }),
});

const DeliveryFilterInput = builder.inputType('WebhookDeliveryFilter', {
  fields: (t) => ({
    status: t.field({ type: [DeliveryStatusEnum], description: 'Only deliveries in one of these states.' }),
    eventTypes: t.stringList({ description: 'Only these event types.' }),
    eventId: t.string({ description: 'Only the deliveries of this event.' }),
  }),
});

builder.node(WebhookEndpointRef, {
  description:
    "Where events are delivered, signed per Standard Webhooks: an organization-wide endpoint, or an integration's webhook " +
    '(`integration` set). The signing secret is shown once, when issued, and never returned again.',
  id: { resolve: (endpoint) => endpoint.id },
  loadMany: (ids, context) => ids.map((id) => (hasRole(context.viewer, 'ADMIN') ? context.loaders.webhookEndpoint.load(id) : null)),
  fields: (t) => ({
    url: t.exposeString('url', { nullable: true, description: 'Where messages are POSTed; null for an integration webhook without one.' }),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes', {
      description:
        "Event types and patterns it receives: `integration.connected`, `integration.*`, `*`. An integration's: empty is every one.",
    }),
    enabled: t.exposeBoolean('enabled'),
    integration: t.field({
      type: IntegrationRef,
      nullable: true,
      description: 'The integration whose events this webhook receives; null for an organization-wide endpoint.',
      resolve: (endpoint, _args, context) => (endpoint.integrationId ? context.loaders.integration.load(endpoint.integrationId) : null),
    }),
    secretRotatedAt: t.expose('secretRotatedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the current signing secret was issued.',
    }),
    previousSecretExpiresAt: t.expose('previousSecretExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Until when the replaced secret also signs (a second signature in `webhook-signature`).',
    }),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'The first failed attempt since the last delivery; null while it answers. Disabled after WEBHOOK_DISABLE_AFTER_HOURS.',
    }),
    lastSuccessAt: t.expose('lastSuccessAt', { type: 'DateTime', nullable: true }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true, description: 'When the gateway disabled it for failing.' }),
    disabledReason: t.exposeString('disabledReason', { nullable: true, description: 'Why the gateway disabled it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.connection(
      {
        type: WebhookDeliveryRef,
        description: 'The delivery log, newest first: each message, where it stands and its attempts.',
        args: { filter: t.arg({ type: DeliveryFilterInput }) },
        resolve: async (endpoint, args, context) => {
          const page = parsePageArgs(args, 'webhookDeliveries');
          const filter = {
            statuses: args.filter?.status ? [...args.filter.status] : null,
            eventTypes: args.filter?.eventTypes ? args.filter.eventTypes.slice(0, 50) : null,
            eventId: args.filter?.eventId?.slice(0, 100) ?? null,
          };
          const rows = await withCursorCheck(
            page,
            () => pageDeliveries(context.db, context.viewer.organization.id, endpoint.id, page, filter),
            cursorKeyShapes.timestamp,
          );
          return toConnection(rows, page, 'webhookDeliveries');
        },
      },
      { name: 'WebhookDeliveryConnection' },
      { name: 'WebhookDeliveryEdge' },
    ),
  }),
});

const EndpointFilterInput = builder.inputType('WebhookEndpointFilter', {
  fields: (t) => ({
    scope: t.field({ type: EndpointScopeEnum, description: "Only organization-wide endpoints, or only integrations' webhooks." }),
  }),
});

builder.queryField('webhookEndpoints', (t) =>
  t.connection(
    {
      type: WebhookEndpointRef,
      description:
        "The organization's webhook endpoints, oldest first: organization-wide ones and integrations' webhooks. Requires ADMIN.",
      authScopes: { admin: true },
      args: { filter: t.arg({ type: EndpointFilterInput }) },
      resolve: async (_root, args, context) => {
        const page = parsePageArgs(args, 'webhookEndpoints');
        const rows = await withCursorCheck(
          page,
          () => pageEndpoints(context.db, context.viewer.organization.id, page, { scope: args.filter?.scope ?? null }),
          cursorKeyShapes.timestamp,
        );
        return toConnection(rows, page, 'webhookEndpoints');
      },
    },
    { name: 'WebhookEndpointConnection' },
    { name: 'WebhookEndpointEdge' },
  ),
);

builder.objectFields(IntegrationRef, (t) => ({
  webhookEndpoint: t.field({
    type: WebhookEndpointRef,
    nullable: true,
    description: "The integration's webhook as an endpoint, with its delivery log; null before it has a URL. Requires ADMIN.",
    authScopes: { admin: true },
    resolve: async (integration, _args, context) => {
      const row = await findIntegrationEndpointRow(context.db, integration.id);
      return row && row.organization_id === context.viewer.organization.id ? toWebhookEndpoint(row) : null;
    },
  }),
}));

const SIGNING_SECRET = 'The new signing secret (`whsec_` and base64): returned this once, when issued, and never again.';

builder.relayMutationField(
  'createWebhookEndpoint',
  {
    inputFields: (t) => ({
      url: t.string({ required: true, description: 'Where messages are POSTed: https, to an address the outbound policy allows.' }),
      eventTypes: t.stringList({ description: 'Event types and patterns (`integration.*`, `*`); absent: every event (`*`).' }),
      description: t.string(),
      enabled: t.boolean({ description: 'Default true.' }),
    }),
  },
  {
    description: 'Creates an organization-wide webhook endpoint with a new signing secret, returned once. Requires ADMIN.',
    authScopes: { admin: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(() => createEndpoint(context.services, context.db, actorOf(context, String(info.path.key)), input), {
        endpoint: null,
        signingSecret: null,
      }),
  },
  {
    outputFields: (t) => ({
      endpoint: t.expose('endpoint', { type: WebhookEndpointRef, nullable: true }),
      signingSecret: t.exposeString('signingSecret', { nullable: true, description: SIGNING_SECRET }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

builder.relayMutationField(
  'updateWebhookEndpoint',
  {
    inputFields: (t) => ({
      id: t.id({ required: true }),
      url: t.string(),
      eventTypes: t.stringList(),
      description: t.string({ description: 'null or empty removes it.' }),
      enabled: t.boolean({ description: 'false stops deliveries (pending ones are given up); true clears a disabled state.' }),
      rotateSecret: t.boolean({
        description: 'Issue a new signing secret, returned once; the replaced one keeps signing beside it for the grace period.',
      }),
      secretGracePeriodSeconds: t.int({
        description: 'With rotateSecret: how long the replaced secret keeps signing, 0 to 604800; default WEBHOOK_SECRET_GRACE_HOURS.',
      }),
    }),
  },
  {
    description: 'Changes an organization-wide webhook endpoint, or rotates its signing secret. Requires ADMIN.',
    authScopes: { admin: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          updateEndpoint(
            context.services,
            context.db,
            actorOf(context, String(info.path.key)),
            decodeTypedID(String(input.id), 'WebhookEndpoint'),
            input,
          ),
        { endpoint: null, signingSecret: null },
      ),
  },
  {
    outputFields: (t) => ({
      endpoint: t.expose('endpoint', { type: WebhookEndpointRef, nullable: true }),
      signingSecret: t.exposeString('signingSecret', { nullable: true, description: SIGNING_SECRET }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

builder.relayMutationField(
  'deleteWebhookEndpoint',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description: 'Deletes an organization-wide webhook endpoint and its delivery log; nothing more is sent to it. Requires ADMIN.',
    authScopes: { admin: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        async () => ({
          deletedEndpointId: (
            await deleteEndpoint(context.db, actorOf(context, String(info.path.key)), decodeTypedID(String(input.id), 'WebhookEndpoint'))
          ).id,
        }),
        { deletedEndpointId: null },
      ),
  },
  {
    outputFields: (t) => ({
      deletedEndpointId: t.id({
        nullable: true,
        resolve: (payload) => (payload.deletedEndpointId ? encodeGlobalID('WebhookEndpoint', payload.deletedEndpointId) : null),
      }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

builder.relayMutationField(
  'redeliverEvent',
  { inputFields: (t) => ({ eventId: t.string({ required: true }), endpointId: t.id({ required: true }) }) },
  {
    description:
      'Sends an event to an endpoint again, now, with the same `webhook-id`, whatever became of its earlier deliveries. Requires ADMIN.',
    authScopes: { admin: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        async () => ({
          delivery: await redeliverEvent(
            context.db,
            actorOf(context, String(info.path.key)),
            input.eventId,
            decodeTypedID(String(input.endpointId), 'WebhookEndpoint'),
          ),
        }),
        { delivery: null },
      ),
  },
  {
    outputFields: (t) => ({
      delivery: t.expose('delivery', { type: WebhookDeliveryRef, nullable: true }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);

builder.relayMutationField(
  'sendTestEvent',
  { inputFields: (t) => ({ endpointId: t.id({ required: true }) }) },
  {
    description:
      'Queues a `webhook_endpoint.test` message to an endpoint, signed and retried like any event, whatever its filter; ' +
      'follow it in `deliveries`. Requires ADMIN.',
    authScopes: { admin: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        async () => ({
          delivery: await sendTestEvent(
            context.db,
            actorOf(context, String(info.path.key)),
            decodeTypedID(String(input.endpointId), 'WebhookEndpoint'),
          ),
        }),
        { delivery: null },
      ),
  },
  {
    outputFields: (t) => ({
      delivery: t.expose('delivery', { type: WebhookDeliveryRef, nullable: true }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);
