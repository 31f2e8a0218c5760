import { GraphQLError } from 'graphql';
import { builder } from '../../graphql/builder.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { IntegrationRef } from '../integration/integration.schema.js';
import { findIntegrationsByIds } from '../integration/integration.repository.js';
import type { GatewayContext } from '../../context.js';
import { EventRef, EventTypeEnum } from './event.schema.js';
import type { EventType, PublishedEvent } from './event.model.js';
import { ResumeExpiredError } from './event-feed.js';
import { openEventStream, SubscriptionLimitError } from './event-streams.js';

builder.subscriptionType({
  description:
    'Live events over Server-Sent Events (GraphQL over SSE: `Accept: text/event-stream`). Each message carries its ' +
    'position as the SSE `id`; reconnect with `Last-Event-ID` (or `after`) to resume where the stream stopped.',
});

const POSITION = /^[0-9]{1,15}$/;

/** Where a subscription resumes: its `after` argument, else the request's `Last-Event-ID`, else from now on. */
function resumeFrom(after: string | null | undefined, context: GatewayContext): number | null {
  const given = after ?? context.eventStream.lastEventId;
  if (given == null || given === '') return null;
  if (!POSITION.test(given)) {
    throw new GraphQLError('`after` (or Last-Event-ID) must be an event position, as the stream sent it in `id`.', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return Number(given);
}

/**
 * Opens the stream; the per-key cap is HTTP 429, a resume from before the retention window HTTP 410
 * (`EVENTS_EXPIRED`: the client reads the current state and subscribes again from now on).
 */
async function open(context: GatewayContext, accepts: (event: PublishedEvent) => boolean, after: number | null) {
  try {
    return await openEventStream(context.events, context.viewer, accepts, after);
  } catch (error) {
    if (error instanceof ResumeExpiredError) {
      throw new GraphQLError(error.message, {
        extensions: { code: 'EVENTS_EXPIRED', purgedThroughPosition: String(error.purgedThrough), http: { status: 410 } },
      });
    }
    if (!(error instanceof SubscriptionLimitError)) throw error;
    throw new GraphQLError(error.message, {
      extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: error.max, http: { status: 429 } },
    });
  }
}

/** Each message reads the database afresh: a subscription's context lives as long as its stream. */
function delivered(context: GatewayContext, event: PublishedEvent): void {
  for (const loader of Object.values(context.loaders)) loader.clearAll();
  context.eventStream.position = event.position;
}

const IntegrationEventsFilter = builder.inputType('IntegrationEventsFilter', {
  fields: (t) => ({
    integrationIds: t.idList({ description: 'Only events of these integrations.' }),
    types: t.field({ type: [EventTypeEnum], description: 'Only events of these types.' }),
  }),
});

builder.subscriptionField('integrationEvents', (t) =>
  t.field({
    type: EventRef,
    description:
      "The organization's events as they are published (in commit order, each once), filtered. " +
      'API key events reach ADMIN keys only. Counts against SUBSCRIPTIONS_MAX_PER_KEY while open.',
    args: {
      filter: t.arg({ type: IntegrationEventsFilter }),
      after: t.arg.string({ description: 'Resume after this position (the last message `id` received).' }),
    },
    subscribe: async (_root, args, context) => {
      const integrationIds = args.filter?.integrationIds?.map((id) => decodeTypedID(String(id), 'Integration'));
      const types = args.filter?.types as EventType[] | null | undefined;
      const wanted = integrationIds ? new Set(integrationIds) : null;
      const accepts = (event: PublishedEvent) =>
        (wanted === null || (event.integrationId !== null && wanted.has(event.integrationId))) && (!types || types.includes(event.type));
      return open(context, accepts, resumeFrom(args.after, context));
    },
    resolve: (event: PublishedEvent, _args, context) => {
      delivered(context, event);
      return event;
    },
  }),
);

builder.subscriptionField('integrationUpdated', (t) =>
  t.field({
    type: IntegrationRef,
    nullable: true,
    description:
      'The integration as it is after each of its events (connected, status or health changed, refreshed, synced, revoked). ' +
      'Null if it can no longer be read.',
    args: {
      id: t.arg.id({ required: true }),
      after: t.arg.string({ description: 'Resume after this position (the last message `id` received).' }),
    },
    subscribe: async (_root, args, context) => {
      const id = decodeTypedID(String(args.id), 'Integration');
      const [found] = await findIntegrationsByIds(context.db, context.viewer.organization.id, [id]);
      if (!found) throw new GraphQLError('No such integration.', { extensions: { code: 'NOT_FOUND' } });
      return open(
        context,
        (event) => event.integrationId === id && event.type.startsWith('integration.'),
        resumeFrom(args.after, context),
      );
    },
    resolve: async (event: PublishedEvent, _args, context) => {
      delivered(context, event);
      const [integration] = await findIntegrationsByIds(context.db, context.viewer.organization.id, [event.integrationId ?? '']);
      return integration ?? null;
    },
  }),
);
