import { type GraphQLFieldResolver, GraphQLObjectType, type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import { encodeGlobalID } from './global-id.js';
import './scalars.js';
import '../modules/organization/organization.schema.js';
import '../modules/api-key/api-key.schema.js';
import '../modules/viewer/viewer.schema.js';
import '../modules/provider/provider.schema.js';
import '../modules/health-check/health-check.schema.js';
import '../modules/integration/integration.schema.js';
import '../modules/integration/integration.mutations.js';
import '../modules/inventory/inventory.schema.js';
import '../modules/connect-session/connect-session.schema.js';
import '../modules/events/event.schema.js';
import '../modules/events/event-subscriptions.schema.js';
import '../modules/webhook/webhook.schema.js';

builder.mutationType({});

type IdResolver = GraphQLFieldResolver<unknown, unknown, Record<string, unknown>, unknown>;

/**
 * The relay plugin resolves every node's `id` through an async function (it awaits the type's id
 * resolver, which may be async), so each node in a list completes through a promise: for a page of 100
 * integrations, 100 promises and their microtasks on every request. Every node type here reads its id
 * from a column, so the field is resolved synchronously, with the same encoding (and a promise only if an
 * id resolver ever returns one).
 */
function resolveNodeIdsSynchronously(built: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(built.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || !type.getInterfaces().some((implemented) => implemented.name === 'Node')) continue;
    const idOf = (type.extensions.pothosOptions as { id?: { resolve?: IdResolver } } | undefined)?.id?.resolve;
    const field = type.getFields().id;
    if (!idOf || !field) throw new Error(`node type ${type.name} has no id resolver`);
    const typename = type.name;
    field.resolve = (parent, args, context, info) => {
      const id = idOf(parent, args, context, info);
      if (id !== null && typeof id === 'object' && typeof (id as PromiseLike<unknown>).then === 'function') {
        return Promise.resolve(id).then((value) => encodeGlobalID(typename, String(value)));
      }
      return encodeGlobalID(typename, String(id));
    };
  }
  return built;
}

export const schema = resolveNodeIdsSynchronously(builder.toSchema());

/** The SDL committed as `schema.graphql`: sorted, so that the file changes only when the API does. */
export function printSchemaSDL(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
