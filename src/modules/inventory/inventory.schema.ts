import { builder } from '../../graphql/builder.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { parsePageArgs } from '../../graphql/pagination.js';
import { asPayload, UserError } from '../../graphql/user-error.js';
import { actorOf } from '../integration/integration.mutations.js';
import { IntegrationRef, SyncStatusEnum } from '../integration/integration.schema.js';
import type { Resource, SyncRun } from './inventory.model.js';
import { requestSync } from './sync.service.js';

const IntegrationResourceRef = builder.objectRef<Resource>('IntegrationResource').implement({
  description: "Something the integration's credential reaches (a repository, a project...), as its latest successful sync listed it.",
  fields: (t) => ({
    kind: t.exposeString('kind', { description: 'What it is at the provider, e.g. `repository` (GitHub) or `project` (GitLab).' }),
    externalId: t.exposeString('externalId', { description: "The provider's id of it." }),
    name: t.exposeString('name'),
    url: t.exposeString('url', { nullable: true, description: 'Where the provider shows it.' }),
    metadata: t.field({
      type: 'JSONObject',
      description: 'A few of its properties, as the provider describes them.',
      resolve: (r) => r.metadata,
    }),
    syncedAt: t.expose('syncedAt', { type: 'DateTime', description: 'When the sync that listed it ran.' }),
  }),
});

const SyncTriggerEnum = builder.enumType('SyncTrigger', {
  values: {
    SCHEDULE: { description: 'The background engine, every SYNC_INTERVAL_SECONDS.' },
    REQUEST: { description: 'syncIntegration.' },
  } as const,
});

const SyncRunRef = builder.objectRef<SyncRun>('SyncRun').implement({
  description: 'One inventory sync of an integration.',
  fields: (t) => ({
    status: t.expose('status', { type: SyncStatusEnum }),
    trigger: t.expose('trigger', { type: SyncTriggerEnum }),
    queuedAt: t.expose('queuedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    itemCount: t.exposeInt('itemCount', { nullable: true, description: 'Resources listed; null until the run succeeded.' }),
    truncated: t.exposeBoolean('truncated', { description: 'The provider listed more than SYNC_MAX_ITEMS; the rest was not stored.' }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const ResourceFilterInput = builder.inputType('IntegrationResourceFilter', {
  fields: (t) => ({
    kind: t.string({ description: 'Only resources of this kind.' }),
    search: t.string({ description: 'Case-insensitive substring of the name.' }),
  }),
});

builder.objectFields(IntegrationRef, (t) => ({
  resources: t.connection(
    {
      type: IntegrationResourceRef,
      description: "What the integration's credential reaches, by name, as its latest successful inventory sync listed it.",
      args: { filter: t.arg({ type: ResourceFilterInput }) },
      resolve: (integration, args, context) => {
        const filter = { kind: args.filter?.kind?.slice(0, 200) ?? null, search: args.filter?.search?.slice(0, 200) ?? null };
        return context.loaders.resourcePage.load({
          integrationId: integration.id,
          page: parsePageArgs(args, 'resources'),
          scope: 'resources',
          filter,
        });
      },
    },
    { name: 'IntegrationResourceConnection' },
    { name: 'IntegrationResourceEdge' },
  ),
  syncRuns: t.connection(
    {
      type: SyncRunRef,
      description: 'The history of inventory syncs, newest first.',
      resolve: (integration, args, context) =>
        context.loaders.syncRunPage.load({ integrationId: integration.id, page: parsePageArgs(args, 'syncRuns'), scope: 'syncRuns' }),
    },
    { name: 'SyncRunConnection' },
    { name: 'SyncRunEdge' },
  ),
}));

builder.relayMutationField(
  'syncIntegration',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description:
      'Queues an inventory sync now and answers at once with the queued run (or the one already queued or running); ' +
      'its progress shows on `lastSync` and `syncRuns`. Requires EDITOR.',
    authScopes: { editor: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          requestSync(
            context.services,
            context.db,
            actorOf(context, String(info.path.key)),
            decodeTypedID(String(input.id), 'Integration'),
          ),
        { integration: null, syncRun: null },
      ),
  },
  {
    outputFields: (t) => ({
      integration: t.expose('integration', { type: IntegrationRef, nullable: true }),
      syncRun: t.expose('syncRun', { type: SyncRunRef, nullable: true }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);
