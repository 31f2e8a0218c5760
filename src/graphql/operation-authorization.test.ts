import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { type GraphQLSchema, type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectOperation } from '../http/limits/query-cost.js';
import {
  coercedVariables,
  forbiddenRootFields,
  rolesAllowedToRun,
  rootFieldsOf,
  useOperationAuthorization,
} from './operation-authorization.js';
import { schema } from './schema.js';

function fieldsOf(text: string, variables: Record<string, unknown> = {}) {
  const document = parse(text);
  const operation = selectOperation(document, null) as OperationDefinitionNode;
  return { operation, fields: rootFieldsOf(document, operation, variables) };
}
const names = (text: string, variables?: Record<string, unknown>) =>
  fieldsOf(text, variables).fields.map((field) => field.alias?.value ?? field.name.value);
const allowed = (text: string, variables?: Record<string, unknown>) => {
  const { operation, fields } = fieldsOf(text, variables);
  return rolesAllowedToRun(schema, operation, fields);
};

describe('the root fields an operation runs', () => {
  it('are found through fragments and inline fragments, once per fragment', () => {
    const text =
      `mutation { a: testIntegration(input: {id: "x"}) { __typename } ...F ` +
      `... on Mutation { c: revokeApiKey(input: {id: "x"}) { __typename } } ...F }
      fragment F on Mutation { b: createApiKey(input: {role: VIEWER}) { __typename } }`;
    expect(names(text)).toEqual(['a', 'b', 'c']);
  });

  it('leave out what @skip and @include leave out, on fields and fragments', () => {
    const text = `query($yes: Boolean!) { viewer { role } apiKeys @include(if: $yes) { id } ... @skip(if: $yes) { providers { key } } }`;
    expect(names(text, { yes: false })).toEqual(['viewer', 'providers']);
    expect(names(text, { yes: true })).toEqual(['viewer', 'apiKeys']);
  });
});

describe('the roles allowed to run an operation', () => {
  it('follow the authScopes of every root field', () => {
    expect(allowed('{ viewer { role } integrations(first: 1) { totalCount } __typename }')).toEqual(['VIEWER', 'EDITOR', 'ADMIN']);
    expect(allowed('mutation { testIntegration(input: {id: "x"}) { __typename } }')).toEqual(['EDITOR', 'ADMIN']);
    expect(
      allowed('mutation { testIntegration(input: {id: "x"}) { __typename } createApiKey(input: {role: VIEWER}) { __typename } }'),
    ).toEqual(['ADMIN']);
    expect(allowed('query($admin: Boolean!) { viewer { role } apiKeys @include(if: $admin) { id } }', { admin: false })).toEqual([
      'VIEWER',
      'EDITOR',
      'ADMIN',
    ]);
  });

  it('name each forbidden field once, by its response name', () => {
    const { operation, fields } = fieldsOf('{ a: apiKeys { id } a: apiKeys { id } b: apiKeys { role } viewer { role } }');
    expect(forbiddenRootFields(schema, operation, fields, 'EDITOR').map((field) => field.alias?.value)).toEqual(['a', 'b']);
    expect(forbiddenRootFields(schema, operation, fields, 'ADMIN')).toEqual([]);
  });
});

describe('a schema whose root scopes cannot be decided from the role alone', () => {
  function schemaWith(authScopes: unknown): GraphQLSchema {
    const builder = new SchemaBuilder<{ AuthScopes: { admin: boolean }; Context: object }>({
      plugins: [ScopeAuthPlugin],
      scopeAuth: { authScopes: () => ({ admin: false }) },
    });
    builder.queryType({ fields: (t) => ({ hello: t.string({ authScopes: authScopes as never, resolve: () => 'hi' }) }) });
    return builder.toSchema();
  }
  const read = (target: GraphQLSchema) => useOperationAuthorization().onSchemaChange?.({ schema: target, replaceSchema: () => {} });

  it('is refused when the gateway is built, so that no root field goes unchecked', () => {
    expect(() => read(schemaWith(() => ({ admin: true })))).toThrow(/Query\.hello: authScopes must be a scope map/);
    expect(() => read(schemaWith({ $granted: 'admin' }))).toThrow(/Query\.hello: scope \$granted cannot be checked/);
    expect(() => read(schemaWith({ admin: true, $any: { admin: true } }))).not.toThrow();
  });
});

describe("a request's variables coerced", () => {
  const operationOf = (text: string) => selectOperation(parse(text), null) as OperationDefinitionNode;

  it('once per variables object and operation: the same answer again, a new one for other variables', () => {
    const operation = operationOf('query ($first: Int, $id: ID!) { node(id: $id) { id } integrations(first: $first) { totalCount } }');
    const variables = { first: 5, id: 7 };
    const coerced = coercedVariables(schema, operation, variables);
    expect(coerced).toEqual({ first: 5, id: '7' });
    expect(coercedVariables(schema, operation, variables)).toBe(coerced);
    const other = coercedVariables(schema, operation, { first: 5, id: 7 });
    expect(other).toEqual(coerced);
    expect(other).not.toBe(coerced);
    // Another operation over the same variables is coerced by its own definitions.
    expect(coercedVariables(schema, operationOf('query ($first: Int) { integrations(first: $first) { totalCount } }'), variables)).toEqual(
      {
        first: 5,
      },
    );
  });

  it('null for variables that do not coerce, every time', () => {
    const operation = operationOf('query ($first: Int) { integrations(first: $first) { totalCount } }');
    const variables = { first: 'two' };
    expect(coercedVariables(schema, operation, variables)).toBeNull();
    expect(coercedVariables(schema, operation, variables)).toBeNull();
    expect(coercedVariables(schema, operation, null)).toEqual({});
  });
});
