import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../graphql/schema.js';
import { encodeGlobalID } from '../../ids.js';
import { OperationCosts } from './query-cost.js';

const NODE =
  'query One($id: ID!) { node(id: $id) { id ... on Integration { displayName healthChecks(first: 5) { edges { node { ok } } } } } }';
const NODES = 'query Many($ids: [ID!]!) { nodes(ids: $ids) { id ... on Integration { displayName provider { key } } } }';
const PAGE = 'query Page($first: Int!, $id: ID!) { integrations(first: $first) { edges { node { id } } } node(id: $id) { id } }';

const integrationId = (n: number) => encodeGlobalID('Integration', `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`);

function remembered(query: string) {
  const costs = new OperationCosts(schema);
  const document = parse(query);
  costs.remember(query, document);
  return { costs, measure: (variables: Record<string, unknown>) => costs.measure(query, document, null, variables) };
}

describe('operation costs remembered per document and variables', () => {
  it('measures node(id) once whatever the ID, with the cost of a fresh measurement', () => {
    const { costs, measure } = remembered(NODE);
    const first = measure({ id: integrationId(1) });
    expect(first?.complexity).toBeGreaterThan(1);
    for (let n = 2; n <= 300; n += 1) expect(measure({ id: integrationId(n) })).toEqual(first);
    expect(measure({ id: 42 })).toEqual(first);
    expect(costs.rememberedMeasurements(NODE)).toBe(2); // one for string IDs, one for integer IDs
    expect(new OperationCosts(schema).measure(NODE, parse(NODE), null, { id: integrationId(300) })).toEqual(first);
    // Measuring reads IDs leniently: one that does not decode costs what any other does (its field refuses it when it runs).
    expect(new OperationCosts(schema).measure(NODE, parse(NODE), null, { id: 'not a global ID' })).toEqual(first);
    expect(new OperationCosts(schema).measure(NODE, parse(NODE), null, { id: 7 })).toEqual(first);
  });

  it('still refuses variables that are not valid IDs after valid ones were measured', () => {
    const { measure } = remembered(NODE);
    expect(measure({ id: integrationId(1) })).not.toBeNull();
    expect(measure({ id: null })).toBeNull();
    expect(measure({})).toBeNull();
    expect(measure({ id: 1.5 })).toBeNull();
    expect(measure({ id: { nested: integrationId(1) } })).toBeNull();
    expect(measure({ id: [integrationId(1)] })).toBeNull();
  });

  it('measures again whatever changes the cost: a list of IDs by its length, a page size by its value', () => {
    const many = remembered(NODES);
    const two = many.measure({ ids: [integrationId(1), integrationId(2)] });
    const three = many.measure({ ids: [integrationId(1), integrationId(2), integrationId(3)] });
    expect(three?.complexity).toBeGreaterThan(two?.complexity ?? Number.POSITIVE_INFINITY);
    const page = remembered(PAGE);
    const ten = page.measure({ first: 10, id: integrationId(1) });
    const hundred = page.measure({ first: 100, id: integrationId(2) });
    expect(hundred?.complexity).toBeGreaterThan(ten?.complexity ?? Number.POSITIVE_INFINITY);
    expect(page.measure({ first: 10, id: integrationId(3) })).toEqual(ten);
    expect(page.costs.rememberedMeasurements(PAGE)).toBe(2);
  });
});
