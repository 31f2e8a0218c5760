import type { GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from './schema.js';

const field = (type: string, name: string) => (schema.getType(type) as GraphQLObjectType).getFields()[name];

describe('the executable schema', () => {
  it('reads a property of the same name without a resolver (the relay plugin’s edges, nodes and page infos)', () => {
    for (const connection of ['IntegrationConnection', 'HealthCheckConnection', 'EventConnection', 'WebhookDeliveryConnection']) {
      expect(field(connection, 'edges')?.resolve, connection).toBeUndefined();
      expect(field(connection, 'pageInfo')?.resolve, connection).toBeUndefined();
      expect(field(connection.replace('Connection', 'Edge'), 'node')?.resolve, connection).toBeUndefined();
    }
  });

  it('keeps every resolver that does more than read its own property', () => {
    // The global ID is computed, the provider looked up, a connection loaded.
    expect(field('Integration', 'id')?.resolve).toBeTypeOf('function');
    expect(field('Integration', 'provider')?.resolve).toBeTypeOf('function');
    expect(field('Integration', 'healthChecks')?.resolve).toBeTypeOf('function');
    expect(field('Query', 'integrations')?.resolve).toBeTypeOf('function');
    // `nodes` maps the edges to their nodes.
    const nodes = field('IntegrationConnection', 'nodes');
    if (nodes) expect(nodes.resolve).toBeTypeOf('function');
  });
});
