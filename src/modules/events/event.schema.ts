import { brandWithType } from '@pothos/core';
import { GraphQLError } from 'graphql';
import { builder } from '../../graphql/builder.js';
import { parsePageArgs, toConnection } from '../../graphql/pagination.js';
import { ServiceError } from '../../errors.js';
import { parseGlobalID } from '../../ids.js';
import { ApiKeyRef } from '../api-key/api-key.schema.js';
import { hasRole } from '../api-key/viewer.js';
import { IntegrationRef } from '../integration/integration.schema.js';
import { cleanEventFilter, type EventFilterInput, isSeq, readEventLog } from './event-log.js';
import { ACTOR_KINDS, type ActorKind, EVENT_TYPES, type EventActor, type EventType, type StoredEvent } from './event.model.js';

const TYPE_DESCRIPTIONS: Record<EventType, string> = {
  'integration.connected': 'An integration got its first credential (a token checked, or an OAuth2 authorization completed).',
  'integration.reconnected': 'An integration that had a credential got a new one by connecting again.',
  'integration.status_changed': 'Its status changed: `data.oldStatus`, `data.newStatus`, `data.reason`.',
  'integration.health_changed': 'Its health changed: `data.oldHealth`, `data.newHealth`, and `data.check` that changed it.',
  'integration.credentials_refreshed': 'New OAuth2 tokens from its refresh token, or a credential replaced by a caller (`data.method`).',
  'integration.refresh_failed': 'A token refresh failed; `data.permanent` when the provider refused the grant.',
  'integration.needs_reauth': 'It entered NEEDS_REAUTH: someone must reconnect it.',
  'integration.revoked': 'It was revoked; `data.revokedAtProvider` says whether the provider confirmed.',
  'integration.sync_completed': 'An inventory sync succeeded: `data.itemCount`, `data.truncated`.',
  'integration.sync_failed': 'An inventory sync failed: `data.code`, `data.message`.',
  'api_key.created': 'An API key was created (its name, role and prefix; never the key). Seen by ADMIN keys only.',
  'api_key.revoked': 'An API key was revoked. Seen by ADMIN keys only.',
  'webhook_endpoint.disabled': 'A webhook endpoint failing for days was disabled: `data.reason`.',
};

/** `integration.status_changed` as the enum value `INTEGRATION_STATUS_CHANGED`. */
export const enumNameOf = (type: EventType) => type.toUpperCase().replaceAll('.', '_');

export const EventTypeEnum = builder.enumType('EventType', {
  description: 'What happened. Webhooks and the REST API name the same types in lower case with a dot: `integration.connected`.',
  values: Object.fromEntries(
    EVENT_TYPES.map((type) => [enumNameOf(type), { value: type, description: `\`${type}\`: ${TYPE_DESCRIPTIONS[type]}` }]),
  ) as Record<string, { value: EventType; description: string }>,
});

const ACTOR_DESCRIPTIONS: Record<ActorKind, string> = {
  API_KEY: 'A request authenticated by an API key; `label` is its visible prefix.',
  SCHEDULER: "The gateway's background engine (scheduled probes, token refreshes, syncs).",
  OAUTH_CALLBACK: "A provider's redirect finishing an OAuth2 authorization; `apiKey` is the key that started it.",
  OPERATOR: 'The command line of the deployment (`keys create`, `keys revoke`).',
  USER: 'An end user signed in without an API key; `subject` names them.',
  SYSTEM: 'The gateway itself.',
};

export const EventActorKindEnum = builder.enumType('EventActorKind', {
  values: Object.fromEntries(ACTOR_KINDS.map((kind) => [kind, { value: kind, description: ACTOR_DESCRIPTIONS[kind] }])) as Record<
    ActorKind,
    { value: ActorKind; description: string }
  >,
});

const EventActorRef = builder.objectRef<EventActor>('EventActor').implement({
  description: 'Who caused an event.',
  fields: (t) => ({
    kind: t.expose('kind', { type: EventActorKindEnum }),
    label: t.exposeString('label', { description: 'What to show: the API key prefix, `scheduler`, `oauth-callback`, `cli`, a name.' }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The API key that acted, when one did and the caller may see it (ADMIN keys see every key, others themselves).',
      resolve: async (actor, _args, context) => {
        if (!actor.apiKeyId) return null;
        if (context.viewer.role !== 'ADMIN' && actor.apiKeyId !== context.viewer.apiKey?.id) return null;
        return context.loaders.apiKey.load(actor.apiKeyId);
      },
    }),
    subject: t.exposeString('subject', { nullable: true, description: "An end user's stable subject (USER)." }),
  }),
});

export const EventRef = builder.objectRef<StoredEvent>('Event').implement({
  description:
    'Something that changed an integration or an API key, written with the change itself: the audit log, ' +
    'what subscriptions stream and what webhooks deliver. Never holds a secret.',
  fields: (t) => ({
    id: t.exposeID('id', { description: '`evt_` and 32 hex digits; also the `webhook-id` of its webhook deliveries.' }),
    type: t.expose('type', { type: EventTypeEnum }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    subjectId: t.exposeID('subjectId', { description: 'The global ID of what changed.' }),
    subject: t.field({
      type: builder.nodeInterfaceRef(),
      nullable: true,
      description: 'What changed, when it still exists and the caller may see it.',
      resolve: async (event, _args, context) => {
        const subject = parseGlobalID(event.subjectId);
        if (subject?.typename === 'Integration') {
          const integration = await context.loaders.integration.load(subject.id);
          return integration && brandWithType(integration, IntegrationRef);
        }
        if (subject?.typename === 'ApiKey' && (hasRole(context.viewer, 'ADMIN') || subject.id === context.viewer.apiKey?.id)) {
          const key = await context.loaders.apiKey.load(subject.id);
          return key && brandWithType(key, ApiKeyRef);
        }
        return null;
      },
    }),
    actor: t.expose('actor', { type: EventActorRef }),
    requestId: t.exposeString('requestId', {
      nullable: true,
      description: 'The request that caused it (`X-Request-Id`), or the job: `scheduler:<task>:<job>`.',
    }),
    data: t.expose('data', { type: 'JSONObject', description: "The type's details (see the README)." }),
    position: t.field({
      type: 'String',
      nullable: true,
      description: 'Its place in the order of publication (commit order), as `Last-Event-ID` takes it; null until published.',
      resolve: (event) => (event.position === null ? null : String(event.position)),
    }),
  }),
});

const EventActorFilterInput = builder.inputType('EventActorFilter', {
  fields: (t) => ({
    kinds: t.field({ type: [EventActorKindEnum] }),
    apiKeyId: t.id({ description: 'Events of this API key (its ID).' }),
    label: t.string({ description: 'Events whose actor has this label, e.g. an API key prefix.' }),
  }),
});

export const EventFilterInputRef = builder.inputType('EventFilter', {
  fields: (t) => ({
    types: t.field({ type: [EventTypeEnum], description: 'Any of these types.' }),
    subjectIds: t.idList({ description: 'Events about any of these (global IDs).' }),
    actor: t.field({ type: EventActorFilterInput }),
    since: t.field({ type: 'DateTime', description: 'At or after this time.' }),
    until: t.field({ type: 'DateTime', description: 'Before this time.' }),
  }),
});

/** A client's filter, checked; a bad value is a BAD_USER_INPUT error naming the argument. */
function filterOf(input: EventFilterInput | null | undefined) {
  try {
    return cleanEventFilter(input, ['filter']);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    throw new GraphQLError(`${error.message} (${error.field.join('.')})`, { extensions: { code: 'BAD_USER_INPUT', field: error.field } });
  }
}

const SCOPE = 'events';

const EventConnectionRef = builder.connectionObject({ type: EventRef, name: 'EventConnection' }, { name: 'EventEdge' });

builder.queryField('events', (t) =>
  t.connection(
    {
      type: EventRef,
      description: `The organization's audit log, newest first, kept EVENT_RETENTION_DAYS. \`first\` or \`last\` (1 to 100) is required.`,
      args: { filter: t.arg({ type: EventFilterInputRef }) },
      resolve: async (_root, args, context) => {
        const page = parsePageArgs(args, SCOPE, isSeq);
        const rows = await readEventLog(context.db, context.viewer, filterOf(args.filter as EventFilterInput), page);
        return toConnection(rows, page, SCOPE);
      },
    },
    EventConnectionRef,
  ),
);

builder.objectFields(IntegrationRef, (t) => ({
  events: t.connection(
    {
      type: EventRef,
      description: "The integration's audit log, newest first.",
      args: { filter: t.arg({ type: EventFilterInputRef }) },
      resolve: async (integration, args, context) => {
        const page = parsePageArgs(args, SCOPE, isSeq);
        const filter = { ...filterOf(args.filter as EventFilterInput), integrationId: integration.id };
        return toConnection(await readEventLog(context.db, context.viewer, filter, page), page, SCOPE);
      },
    },
    EventConnectionRef,
  ),
}));
