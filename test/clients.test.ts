import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { cacheExchange, Client, fetchExchange } from '@urql/core';
import { GraphQLClient } from 'graphql-request';
import { Network, type RequestParameters, type Variables } from 'relay-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countApiKeys, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/**
 * The common GraphQL clients, each with its defaults and nothing added but the Authorization header,
 * against the gateway on a real loopback port: a query and a mutation through each.
 */
let gateway: TestGateway;
let org: OrgFixture;
let url: string;
/** The method of every request the gateway received. */
const methods: string[] = [];

beforeAll(async () => {
  gateway = await createTestGateway({ world: true, rateLimit: {}, listen: true });
  org = gateway.world.acme;
  gateway.server.on('request', (request) => methods.push(request.method ?? ''));
  url = `${gateway.url}/graphql`;
});
afterAll(() => gateway?.close());

const QUERY = 'query Viewer { viewer { role organization { slug } } }';
const MUTATION =
  'mutation CreateKey($name: String) { createApiKey(input: { role: VIEWER, name: $name }) ' +
  '{ apiKey { id name } key userErrors { code } } }';
const authorization = () => `Bearer ${org.keys.ADMIN}`;

/** Runs a client's query and mutation, checks both answers, that the key was created, and the methods used. */
async function exercise(name: string, run: { query: () => Promise<any>; mutate: (variables: { name: string }) => Promise<any> }) {
  methods.length = 0;
  expect(await run.query()).toMatchObject({ viewer: { role: 'ADMIN', organization: { slug: 'acme' } } });
  const before = await countApiKeys(gateway.db);
  const created = await run.mutate({ name: `${name} key` });
  expect(created.createApiKey).toMatchObject({ apiKey: { name: `${name} key` }, userErrors: [] });
  expect(created.createApiKey.key).toMatch(/^igw_/);
  expect(await countApiKeys(gateway.db)).toBe(before + 1);
  return [...methods];
}

describe('every common client works with its defaults and a Bearer key', () => {
  it('urql (queries as GET)', async () => {
    const client = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: () => ({ headers: { authorization: authorization() } }),
      // urql aborts its request once `toPromise` has its result; Node 20's fetch may then reject a body
      // stream's promise that nobody holds, an unhandled AbortError after the gateway has answered. The
      // request goes out unchanged, without the signal that only serves that clean-up.
      fetch: (input, init) => fetch(input, { ...init, signal: null }),
    });
    const used = await exercise('urql', {
      query: async () => {
        const result = await client.query(QUERY, {}).toPromise();
        expect(result.error).toBeUndefined();
        return result.data;
      },
      mutate: async (variables) => {
        const result = await client.mutation(MUTATION, variables).toPromise();
        expect(result.error).toBeUndefined();
        return result.data;
      },
    });
    expect(used).toEqual(['GET', 'POST']);
  });

  it('Apollo Client', async () => {
    const client = new ApolloClient({
      link: new HttpLink({ uri: url, headers: { authorization: authorization() } }),
      cache: new InMemoryCache(),
    });
    await exercise('apollo', {
      query: async () => (await client.query({ query: gql(QUERY) })).data,
      mutate: async (variables) => (await client.mutate({ mutation: gql(MUTATION), variables })).data,
    });
    await client.stop();
  });

  it('Relay (a network layer with the fetch function Relay apps write)', async () => {
    const network = Network.create(async (request: RequestParameters, variables: Variables) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: authorization() },
        body: JSON.stringify({ query: request.text, variables }),
      });
      return response.json();
    });
    const execute = async (text: string, name: string, operationKind: 'query' | 'mutation', variables: Variables) => {
      const params: RequestParameters = { id: null, cacheID: name, name, operationKind, text, metadata: {} };
      const response = await network.execute(params, variables, {}).toPromise();
      expect(response && 'errors' in response ? response.errors : undefined).toBeUndefined();
      return response && 'data' in response ? response.data : undefined;
    };
    await exercise('relay', {
      query: () => execute(QUERY, 'Viewer', 'query', {}),
      mutate: (variables) => execute(MUTATION, 'CreateKey', 'mutation', variables),
    });
  });

  it('graphql-request', async () => {
    const client = new GraphQLClient(url, { headers: { authorization: authorization() } });
    await exercise('graphql-request', { query: () => client.request(QUERY), mutate: (variables) => client.request(MUTATION, variables) });
  });

  it('plain fetch', async () => {
    const post = async (query: string, variables?: Record<string, unknown>) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: authorization() },
        body: JSON.stringify({ query, variables }),
      });
      expect(response.status).toBe(200);
      return (await response.json()).data;
    };
    await exercise('fetch', { query: () => post(QUERY), mutate: (variables) => post(MUTATION, variables) });
  });

  it('curl, POST and GET', async () => {
    const curl = async (args: string[]) =>
      JSON.parse(
        (await promisify(execFile)('curl', ['-sS', '--fail-with-body', '-H', `Authorization: ${authorization()}`, ...args])).stdout,
      ).data;
    const used = await exercise('curl', {
      query: () => curl(['--get', '--data-urlencode', `query=${QUERY}`, url]),
      mutate: (variables) => curl(['-H', 'Content-Type: application/json', '-d', JSON.stringify({ query: MUTATION, variables }), url]),
    });
    expect(used).toEqual(['GET', 'POST']);
  });
});
