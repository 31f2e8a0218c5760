import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !ISO_8601.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError('DateTime must be an ISO-8601 date and time with a time zone, e.g. 2026-01-31T12:00:00Z.', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return new Date(value);
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 string in UTC, e.g. `2026-01-31T12:00:00.000Z`.',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : null),
});

builder.queryType({});
