import { GraphQLError, Kind } from 'graphql';
import { isoString } from '../db/timestamps.js';
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
  serialize: (value) => isoString(value instanceof Date ? value : new Date(value as string)),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : null),
});

builder.queryType({});

function parseObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GraphQLError('JSONObject must be an object.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return value as Record<string, unknown>;
}

function literalValue(ast: import('graphql').ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map(literalValue);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((field) => [field.name.value, literalValue(field.value)]));
    default:
      throw new GraphQLError('JSONObject literals may not use variables inside.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
}

builder.scalarType('JSONObject', {
  description: 'A JSON object, e.g. a provider\'s settings `{"host": "git.example.com"}`.',
  serialize: (value) => parseObject(value),
  parseValue: parseObject,
  parseLiteral: (ast) => parseObject(literalValue(ast)),
});
