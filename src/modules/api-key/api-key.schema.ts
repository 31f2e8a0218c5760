import { builder } from '../../graphql/builder.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { asPayload, UserError, type UserErrorShape } from '../../graphql/user-error.js';
import type { Role } from '../../db/database.js';
import type { ApiKey } from './api-key.repository.js';
import { listApiKeys } from './api-key.repository.js';
import { requestArrivedAt } from '../../http/request-clock.js';
import { issueApiKey, revokeApiKey } from './api-key.service.js';
import { hasRole } from './viewer.js';
import { commitWithLiveKey } from './key-recheck.js';
import { viewerActor } from '../events/event-actor.js';

export const RoleEnum = builder.enumType('Role', {
  description: 'What an API key may do. Each role includes the ones before it.',
  values: {
    VIEWER: { description: 'Reads integrations, their health and the catalog.' },
    EDITOR: { description: 'Also connects, refreshes, tests and revokes integrations.' },
    ADMIN: { description: 'Also manages API keys.' },
  } as const,
});

export const ApiKeyRef = builder.objectRef<ApiKey>('ApiKey');

builder.node(ApiKeyRef, {
  description: 'An organization-scoped API key. Only its prefix is ever shown after creation.',
  id: { resolve: (key) => key.id },
  // A key sees itself; admins see every key of their organization.
  loadOne: async (id, context) => {
    if (!hasRole(context.viewer, 'ADMIN') && id !== context.viewer.apiKey?.id) return null;
    return context.loaders.apiKey.load(id);
  },
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The visible start of the key, to recognise it in logs and lists.' }),
    role: t.expose('role', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Recorded to the minute.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKeyRef],
    description: "The organization's API keys, oldest first. Requires ADMIN.",
    authScopes: { admin: true },
    args: { includeRevoked: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, args, context) =>
      listApiKeys(context.db, context.viewer.organization.id, { includeRevoked: args.includeRevoked ?? false }),
  }),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    role: t.field({ type: RoleEnum, required: true }),
    name: t.string({ description: 'A label for people; defaults to the role.' }),
  }),
});

const CreateApiKeyPayload = builder
  .objectRef<{ apiKey: ApiKey | null; key: string | null; userErrors: UserErrorShape[] }>('CreateApiKeyPayload')
  .implement({
    fields: (t) => ({
      apiKey: t.expose('apiKey', { type: ApiKeyRef, nullable: true }),
      key: t.exposeString('key', {
        nullable: true,
        description: 'The full key. Returned this once and never again: store it now.',
      }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  });

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreateApiKeyPayload,
    description: "Creates an API key in the caller's organization. Requires ADMIN.",
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }, context) =>
      asPayload(
        async () => {
          const startedAt = requestArrivedAt(context) ?? new Date();
          const issued = await commitWithLiveKey(context.db, { viewer: context.viewer, startedAt }, (trx) =>
            issueApiKey(
              trx,
              { organizationId: context.viewer.organization.id, role: input.role as Role, name: input.name },
              { actor: viewerActor(context.viewer), requestId: context.requestId },
            ),
          );
          return { apiKey: issued.apiKey, key: issued.secret };
        },
        { apiKey: null, key: null },
      ),
  }),
);

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const RevokeApiKeyPayload = builder.objectRef<{ apiKey: ApiKey | null; userErrors: UserErrorShape[] }>('RevokeApiKeyPayload').implement({
  fields: (t) => ({
    apiKey: t.expose('apiKey', { type: ApiKeyRef, nullable: true }),
    userErrors: t.expose('userErrors', { type: [UserError] }),
  }),
});

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: RevokeApiKeyPayload,
    description: "Revokes an API key of the caller's organization at once. Requires ADMIN.",
    authScopes: { admin: true },
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    resolve: (_root, { input }, context) =>
      asPayload(
        async () => ({
          apiKey: await revokeApiKey(context.db, context.viewer.organization.id, decodeTypedID(String(input.id), 'ApiKey'), {
            actor: viewerActor(context.viewer),
            requestId: context.requestId,
          }),
        }),
        { apiKey: null },
      ),
  }),
);
