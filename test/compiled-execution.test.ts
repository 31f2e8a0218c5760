import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isLeafType,
  isNonNullType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPILE_ON_EXECUTION } from '../src/graphql/compiled-execution.js';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { schema } from '../src/graphql/schema.js';
import { insertHealthChecks, insertIntegration, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/**
 * An operation runs uncompiled (graphql-js) until it repeats, then compiled (graphql-jit): the two must
 * answer alike. Every field of the read API is asked through both, byte for byte, and so are the errors
 * both executors raise (bad arguments, unknown IDs, variables of the wrong type, denied fields).
 */

let gateway: TestGateway;
let org: OrgFixture;
const ids: string[] = [];

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  org = gateway.world.acme;
  const at = new Date('2026-11-01T10:00:00.123Z');
  for (const [i, health] of (['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'UNKNOWN'] as const).entries()) {
    const inserted = await insertIntegration(gateway.db, org.organization.id, {
      provider: ['github', 'slack', 'jira', 'datadog'][i],
      displayName: `Integration ${i}`,
      environment: i === 3 ? null : 'production',
      health,
      lastCheckAt: health === 'UNKNOWN' ? null : at,
      grantedScopes: i === 0 ? ['repo'] : null,
      requestedScopes: ['repo', 'read:org'],
      lastSync: i === 1 ? { status: 'FAILED', startedAt: at, finishedAt: at, error: 'provider answered 503' } : undefined,
    });
    await insertHealthChecks(gateway.db, org.organization.id, inserted.id, 3, at);
    ids.push(inserted.globalId);
  }
});
afterAll(() => gateway?.close());

/** Arguments for a field that takes any: a page of two where it pages, nothing where nothing is required. */
function argumentsOf(field: GraphQLField<unknown, unknown>): string | null {
  const names = field.args.map((arg) => arg.name);
  if (names.includes('first')) return '(first: 2)';
  return field.args.some((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined) ? null : '';
}

/** Every field of `type` down to `depth` levels of objects: leaves as they are, abstract types by __typename and id. */
function selectionOf(type: GraphQLNamedType, depth: number): string {
  if (isLeafType(type)) return '';
  if (isAbstractType(type)) {
    const id = isInterfaceType(type) && type.getFields().id ? ' id' : '';
    return `{ __typename${id} }`;
  }
  const fields: string[] = [];
  for (const field of Object.values((type as GraphQLObjectType).getFields())) {
    const args = argumentsOf(field);
    if (args === null) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) fields.push(`${field.name}${args}`);
    else if (depth > 0) fields.push(`${field.name}${args} ${selectionOf(named, depth - 1)}`);
  }
  return `{ __typename ${fields.join(' ')} }`;
}

const integration = schema.getType('Integration') as GraphQLObjectType;
const READS: Record<string, { query: string; variables?: Record<string, unknown> }> = {
  page: {
    query:
      'query Page { integrations(first: 3) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } ' +
      `edges { cursor node ${selectionOf(integration, 2)} } } }`,
  },
  lastPage: {
    query:
      'query Last { integrations(last: 2, orderBy: {field: DISPLAY_NAME, direction: DESC}) { edges { cursor node { id displayName } } } }',
  },
  filtered: {
    query:
      'query Filtered($filter: IntegrationFilter) ' +
      '{ integrations(first: 10, filter: $filter) { totalCount edges { node { id health } } } }',
    variables: { filter: { healths: ['HEALTHY', 'DEGRADED'], search: 'integ' } },
  },
  node: { query: `query Node($id: ID!) { node(id: $id) { __typename id ... on Integration ${selectionOf(integration, 1)} } }` },
  nodes: { query: 'query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Integration { displayName status } } }' },
  viewer: { query: `query Viewer { viewer ${selectionOf(schema.getType('Viewer') as GraphQLObjectType, 2)} }` },
  providers: { query: `query Providers { providers ${selectionOf(schema.getType('Provider') as GraphQLObjectType, 2)} }` },
  events: {
    query: `query Events { events(first: 5) { edges { cursor node ${selectionOf(schema.getType('Event') as GraphQLObjectType, 1)} } } }`,
  },
};
const ERRORS: Record<string, { query: string; variables?: Record<string, unknown> }> = {
  firstTooLarge: { query: 'query Big { integrations(first: 1000) { edges { node { id } } } }' },
  // Located on the third line, past a CR LF and a CR: both executors count lines as graphql-js does.
  onThirdLine: { query: 'query Lines {\r\n  viewer { role }\r  integrations(first: 1000) { edges { node { id } } }\n}' },
  unknownNode: { query: 'query Unknown { node(id: "SW50ZWdyYXRpb246bm9uZQ") { id } }' },
  badCursor: { query: 'query Cursor { integrations(first: 2, after: "not-a-cursor") { edges { node { id } } } }' },
  wrongVariable: { query: 'query Wrong($first: Int) { integrations(first: $first) { totalCount } }', variables: { first: 'two' } },
  missingVariable: { query: 'query Missing($id: ID!) { node(id: $id) { id } }', variables: {} },
  deniedToViewer: { query: 'query Keys { apiKeys { id prefix } }' },
  mutationRefused: {
    query: 'mutation Refresh($input: RefreshIntegrationInput!) { refreshIntegration(input: $input) { integration { id } } }',
    variables: { input: { id: 'SW50ZWdyYXRpb246bm9uZQ' } },
  },
};

/** The answer's text `times` times over for the same document, the compiled operations counted after each. */
async function sendRepeatedly(key: string, query: string, variables?: Record<string, unknown>): Promise<string[]> {
  const texts: string[] = [];
  for (let time = 1; time <= COMPILE_ON_EXECUTION + 1; time += 1) texts.push((await gateway.graphql(key, query, variables)).text);
  return texts;
}

async function keyUseRecorded(key: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await gateway.graphql(key, '{ viewer { apiKey { lastUsedAt } } }')).body.data.viewer.apiKey.lastUsedAt) {
    if (Date.now() > deadline) throw new Error("the key's use was never recorded");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('uncompiled and compiled execution', () => {
  it.each(Object.keys(READS))('answer %s alike, byte for byte', async (name) => {
    const { query, variables } = READS[name] as { query: string; variables?: Record<string, unknown> };
    const unknown = encodeGlobalID('Integration', '00000000-0000-4000-8000-000000000000');
    const vars = name === 'node' ? { id: ids[0] } : name === 'nodes' ? { ids: [ids[1], unknown, ids[0]] } : variables;
    // The key's use is recorded after its answer (at most once a minute): wait for it, or a later answer shows it.
    if (name === 'viewer') await keyUseRecorded(org.keys.ADMIN);
    const [first, ...later] = await sendRepeatedly(org.keys.ADMIN, query, vars);
    const body = JSON.parse(first as string);
    expect(body.errors, first).toBeUndefined();
    expect(JSON.stringify(body.data)).not.toMatch(/"data":null/);
    for (const text of later) expect(text).toBe(first);
  });

  it.each(Object.keys(ERRORS))('refuse %s alike', async (name) => {
    const { query, variables } = ERRORS[name] as { query: string; variables?: Record<string, unknown> };
    const [first, ...later] = await sendRepeatedly(org.keys.VIEWER, query, variables);
    const body = JSON.parse(first as string);
    expect(body.errors?.length, first).toBeGreaterThan(0);
    for (const error of body.errors) expect(error.extensions?.code, first).toEqual(expect.any(String));
    if (name === 'onThirdLine') expect(body.errors[0].locations).toEqual([{ line: 3, column: 3 }]);
    for (const text of later) expect(text).toBe(first);
  });

  it('compile an operation on its second execution and not before', async () => {
    const entries = async () => {
      const text = await (await gateway.fetch('/metrics')).text();
      const read = (cache: string) => Number(text.match(new RegExp(`document_cache_entries\\{cache="${cache}"\\} (\\d+)`))?.[1]);
      return { compiled: read('compiled'), counted: read('counted') };
    };
    const query = 'query Once { integrations(first: 1) { edges { node { id } } } }';
    const before = await entries();
    await gateway.graphql(org.keys.VIEWER, query);
    expect(await entries()).toEqual({ compiled: before.compiled, counted: before.counted + 1 });
    await gateway.graphql(org.keys.VIEWER, query);
    expect(await entries()).toEqual({ compiled: before.compiled + 1, counted: before.counted });
  });
});
