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

/** A resolver that only reads its field's own property of the parent, e.g. the relay plugin's `(parent)=>parent.node`. */
const PROPERTY_READ = /^\(?\s*(\w+)\s*\)?\s*=>\s*\1\.(\w+)$/;

/**
 * Fields whose resolver only reads the property of the same name (the relay plugin's edges, nodes of edges
 * and page infos) lose the resolver: graphql-js's default resolver reads the same property, and graphql-jit
 * then reads it inline. Through a resolver, each such field of each row of a page cost a call with its own
 * resolve info, response path and closures: for a page of 100, a fifth of what the request allocated.
 * Only unwrapped resolvers (no plugin put anything around them) whose whole source is that read qualify.
 */
function readPropertiesDirectly(built: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(built.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve;
      if (!resolve || field.extensions?.pothosOriginalResolve !== resolve) continue;
      const read = PROPERTY_READ.exec(resolve.toString());
      if (read && read[2] === field.name) field.resolve = undefined;
    }
  }
  return built;
}

export const schema = readPropertiesDirectly(resolveNodeIdsSynchronously(builder.toSchema()));

/** The SDL committed as `schema.graphql`: sorted, so that the file changes only when the API does. */
export function printSchemaSDL(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
