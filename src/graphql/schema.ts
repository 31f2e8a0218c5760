import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import '../modules/organization/organization.schema.js';
import '../modules/api-key/api-key.schema.js';
import '../modules/viewer/viewer.schema.js';
import '../modules/provider/provider.schema.js';
import '../modules/health-check/health-check.schema.js';
import '../modules/integration/integration.schema.js';
import '../modules/integration/integration.mutations.js';

builder.mutationType({});

export const schema = builder.toSchema();

/** The SDL committed as `schema.graphql`: sorted, so that the file changes only when the API does. */
export function printSchemaSDL(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
