import type { GraphQLSchema } from 'graphql';
import { disguisedInternalAddress, loneSurrogates, mediaTypes, stalledRequest } from './fuzz-edge.js';
import { type Random, wrongArgumentDocument } from './fuzz-random.js';

/**
 * One generated bad request. `refused`: the answer must be a 4xx, or GraphQL errors that all carry a
 * code, or mutation payloads whose `userErrors` all carry one. `invisible`: a read of another
 * organization's object, which must look exactly like a missing one (null, and nothing of it shown).
 * `blocked`: a provider call the outbound policy must refuse (`userErrors` all `OUTBOUND_BLOCKED`).
 */
export interface FuzzCase {
  category: string;
  expect: 'refused' | 'invisible' | 'blocked';
  /** Sent with fetch over the loopback port. */
  request?: { method: string; headers: Record<string, string>; body?: string | Uint8Array | { streamBytes: number }; query?: string };
  /** Or sent as raw bytes over a socket, for what fetch cannot send (malformed HTTP). */
  raw?: Uint8Array;
  /** The raw bytes are an unfinished request, and the connection stays open after them. */
  stall?: boolean;
}

/** What the generators need to know about the seeded database. */
export interface FuzzWorld {
  schema: GraphQLSchema;
  /** Keys of the caller's organization by role. */
  keys: { VIEWER: string; EDITOR: string; ADMIN: string };
  revokedKey: string;
  /** Global IDs of the caller's own objects: active integrations, a revoked one, its API keys. */
  own: { integrations: string[]; revokedIntegration: string; apiKey: string };
  /** Global IDs of another organization's objects, by type. */
  foreign: { Integration: string[]; ApiKey: string[]; HealthCheck: string[]; Organization: string[] };
  /** Real cursors: [scope, key, id] decoded, to forge variations of. */
  cursor: { integrations: [string, string, string]; healthChecks: [string, string, string] };
}

const JSON_TYPE = 'application/json';
const b64 = (text: string) => Buffer.from(text).toString('base64url');
const post = (key: string | null, body: string | Uint8Array | { streamBytes: number }, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': JSON_TYPE, ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
  body,
});
const gql = (key: string | null, query: string, variables?: unknown, headers: Record<string, string> = {}) =>
  post(key, JSON.stringify({ query, ...(variables === undefined ? {} : { variables }) }), headers);

type Generator = (random: Random, world: FuzzWorld) => FuzzCase;

const anyKey = (random: Random, world: FuzzWorld) => random.pick([world.keys.VIEWER, world.keys.EDITOR, world.keys.ADMIN]);
const VALID_QUERY = '{ viewer { role } integrations(first: 3) { edges { node { id displayName } } } }';

/** Malformed JSON and well-formed JSON of the wrong shape. */
const malformedJson: Generator = (random, world) => {
  const valid = JSON.stringify({ query: VALID_QUERY, variables: { a: 1 } });
  const deep = random.between(2_000, 40_000);
  const body = random.pick<() => string | Uint8Array>([
    () => valid.slice(0, random.int(valid.length)),
    () => valid.slice(0, random.int(valid.length)) + random.string(random.between(1, 10), '{}[]:,"\\ \n'),
    () => random.bytes(random.between(1, 200)),
    () =>
      random.pick([
        '',
        ' ',
        'null',
        'true',
        '1e999',
        '"query"',
        '[]',
        '[{}]',
        '{"query":"{ viewer { role } }"}}',
        "{'query': '{viewer{role}}'}",
        '{"query":"\\u12"}',
      ]),
    () => JSON.stringify({ query: random.pick([1, true, null, {}, [VALID_QUERY], { query: VALID_QUERY }]) }),
    () => JSON.stringify({ query: VALID_QUERY, variables: random.pick(['x', 1, true, [1], '{"a":1}']) }),
    () => JSON.stringify({ query: VALID_QUERY, operationName: random.pick([1, true, {}, ['x'], 'NoSuchOperation']) }),
    () => JSON.stringify({ query: VALID_QUERY, extensions: random.pick(['x', 1, [1]]) }),
    () => `{"query":"{ viewer { role } }","variables":${'['.repeat(deep)}${']'.repeat(deep)}}`,
    () => `{"query":${'{"a":'.repeat(deep / 4)}1${'}'.repeat(deep / 4)}}`,
    () =>
      '{"query":"mutation($a: JSONObject) { createApiKey(input: { role: VIEWER }) { key } }",' +
      `"variables":{"a":${'{"a":'.repeat(deep / 4)}1${'}'.repeat(deep / 4)}}}`,
    () =>
      Buffer.concat([
        Buffer.from('{"query":"{ viewer '),
        Buffer.from(random.bytes(random.between(1, 8)).map((b) => b | 0x80)),
        Buffer.from(' { role } }"}'),
      ]),
    () => `\uFEFF${valid}`.replace('query', random.pick(['Query', 'QUERY', 'query '])),
  ])();
  return { category: 'malformed JSON', expect: 'refused', request: post(anyKey(random, world), body) };
};

/** Bodies in a content type the gateway does not read, or requests in a method or Accept it does not serve. */
const wrongContentType: Generator = (random, world) => {
  const key = anyKey(random, world);
  const body = JSON.stringify({ query: random.pick([VALID_QUERY, 'mutation { createApiKey(input: {role: ADMIN}) { key } }']) });
  const csrf: Record<string, string> = random.bool() ? { 'x-graphql-yoga-csrf': '1' } : {};
  return random.pick<() => FuzzCase>([
    () => ({
      category: 'wrong content type',
      expect: 'refused',
      request: post(key, body, {
        'content-type': random.pick([
          'text/plain',
          'application/xml',
          'text/html',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=zz',
          'application/octet-stream',
          'image/png',
          'application/jsonx',
          'json',
          '*/*',
          '',
        ]),
        ...csrf,
      }),
    }),
    () => ({
      category: 'wrong method',
      expect: 'refused',
      request: { ...post(key, body), method: random.pick(['PUT', 'PATCH', 'DELETE']) },
    }),
    () => ({
      category: 'unacceptable Accept',
      expect: 'refused',
      request: post(key, body, {
        accept: random.pick(['application/xml', 'text/html', 'image/*', 'application/json; charset=latin1', 'text/plain']),
      }),
    }),
    () => ({
      category: 'mutation over GET',
      expect: 'refused',
      request: {
        method: 'GET',
        headers: { authorization: `Bearer ${key}`, ...csrf },
        query: `query=${encodeURIComponent('mutation { createApiKey(input: {role: VIEWER}) { key } }')}`,
      },
    }),
    () => ({
      category: 'multipart upload',
      expect: 'refused',
      request: post(
        key,
        '--zz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n' +
          `${random.pick(['{', '[]', '{"query":1}', 'null', '{"query":"{ nope }"}'])}\r\n` +
          '--zz\r\nContent-Disposition: form-data; name="map"\r\n\r\n' +
          `${random.pick(['{"0":["variables.file"]}', 'x'])}\r\n--zz--`,
        {
          'content-type': 'multipart/form-data; boundary=zz',
          ...csrf,
        },
      ),
    }),
  ])();
};

/** Bodies over the size limit (100 KiB by default), with and without a Content-Length. */
const hugeBody: Generator = (random, world) => {
  const size = random.pick([110 * 1024, 300 * 1024, 2 * 1024 * 1024]);
  if (random.bool(0.3))
    return { category: 'huge body (streamed)', expect: 'refused', request: post(anyKey(random, world), { streamBytes: size }) };
  const padding = 'x'.repeat(size);
  const body = random.pick([
    () => JSON.stringify({ query: `{ viewer { role } } # ${padding}` }),
    () => JSON.stringify({ query: VALID_QUERY, variables: { pad: padding } }),
    () => `{"query":"${padding}`,
  ])();
  return { category: 'huge body', expect: 'refused', request: post(random.bool(0.8) ? anyKey(random, world) : null, body) };
};

/** Deep nesting, alias, token, directive and fragment bombs, each beyond the limit it aims at. */
const bomb: Generator = (random, world) => {
  const n = random.between(1, 4);
  const query = random.pick([
    () => `{ ${'viewer { organization { '.repeat(8 * n)}id${' } }'.repeat(8 * n)} }`,
    () => `{ ${'... on Query { '.repeat(520 * n)}viewer { role }${' }'.repeat(520 * n)} }`,
    () => `{ ${Array.from({ length: 31 * n }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`,
    () =>
      `{ ${Array.from(
        { length: 30 },
        (_, i) => `a${i}: integrations(first: 100) { edges { node { healthChecks(first: 100) { edges { node { ok } } } } } }`,
      ).join(' ')} }`,
    () => `{ viewer { ${'role '.repeat(2_100 * n)}} }`,
    () => `{ viewer { role ${'@include(if: true) '.repeat(21 * n)}} }`,
    () => `query { ...A } fragment A on Query { ...B } fragment B on Query { ...A viewer { role } }`,
    () => `{ nodes(ids: ${'['.repeat(600 * n)}"x"${']'.repeat(600 * n)}) { id } }`,
    () => `{ integrations(first: 1, filter: ${'{ search: '.repeat(400 * n)}"x"${' }'.repeat(400 * n)}) { totalCount } }`,
    () =>
      `{ ${Array.from(
        { length: 10 },
        (_, i) =>
          `i${i}: integrations(first: 100) { totalCount edges { node { id ` +
          'healthChecks(first: 100) { edges { node { id ok } } } } } }',
      ).join(' ')} }`,
  ])();
  return { category: 'query bomb', expect: 'refused', request: gql(anyKey(random, world), query) };
};

/** Documents generated from the schema with an argument of the wrong type. */
const wrongArgumentTypes: Generator = (random, world) => {
  const { query, variables } = wrongArgumentDocument(world.schema, random);
  return { category: 'wrong argument type', expect: 'refused', request: gql(anyKey(random, world), query, variables) };
};

/** IDs that are not IDs this API issued, of the wrong type, or of another organization. */
const badIds: Generator = (random, world) => {
  const uuid = '00000000-0000-4000-8000-000000000000';
  const malformed = random.pick([
    () => random.string(random.between(0, 40)),
    () => b64(`Integration:${random.string(10)}`),
    () => b64(`Bogus:${uuid}`),
    () => b64(`Integration:${uuid}`).replace(/.$/, '!'),
    () => `${b64(`Integration:${uuid}`)}===`,
    () => b64(`Integration:${uuid}' OR '1'='1`),
    () => b64(`Integration:${uuid}\u0000`),
    () => 'A'.repeat(random.between(201, 5_000)),
    () => '🙂'.repeat(random.between(1, 20)),
    () => world.own.apiKey, // the right format, the wrong type where an integration is expected
  ])();
  const foreignType = random.pick(['Integration', 'ApiKey', 'HealthCheck', 'Organization'] as const);
  const foreign = random.pick(world.foreign[foreignType]);
  if (random.bool(0.35)) {
    // Another organization's object, read: null, as if it did not exist.
    const query = random.pick([
      'query($id: ID!) { node(id: $id) { id __typename ' +
        '... on Integration { displayName } ... on Organization { slug } ... on ApiKey { prefix } } }',
      `query($id: ID!) { nodes(ids: [$id, $id]) { id } }`,
      ...(foreignType === 'Integration' ? ['query($id: ID!) { integration(id: $id) { id displayName } }'] : []),
    ]);
    return { category: 'foreign ID (read)', expect: 'invisible', request: gql(anyKey(random, world), query, { id: foreign }) };
  }
  const id = random.bool(0.7) ? malformed : foreign;
  const mutation = random.pick([
    'mutation($id: ID!) { revokeIntegration(input: { id: $id }) { integration { id } userErrors { code } } }',
    'mutation($id: ID!) { testIntegration(input: { id: $id }) { healthCheck { id } userErrors { code } } }',
    'mutation($id: ID!) { refreshIntegration(input: { id: $id, webhook: { enabled: false } }) ' +
      '{ integration { id } userErrors { code } } }',
    'mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } userErrors { code } } }',
    'mutation($id: ID!) { connectIntegration(input: { integrationId: $id, provider: "github", authKind: OAUTH2, displayName: "x", ' +
      'oauth2: { returnUrl: "https://example.test/" } }) { integration { id } userErrors { code } } }',
  ]);
  const key = mutation.includes('ApiKey') ? world.keys.ADMIN : random.pick([world.keys.EDITOR, world.keys.ADMIN]);
  if (id === foreign) return { category: 'foreign ID (mutation)', expect: 'refused', request: gql(key, mutation, { id }) };
  if (id === world.own.apiKey) {
    // A real ID of the wrong type: refused only where an integration is expected (node() would find it,
    // and revokeApiKey would revoke it).
    const wrongType = random.pick(['query($id: ID!) { integration(id: $id) { id } }', ...(mutation.includes('ApiKey') ? [] : [mutation])]);
    return { category: 'invalid ID', expect: 'refused', request: gql(world.keys.EDITOR, wrongType, { id }) };
  }
  const read = random.pick([
    'query($id: ID!) { node(id: $id) { id } }',
    'query($id: ID!) { nodes(ids: [$id]) { id } }',
    'query($id: ID!) { integration(id: $id) { id } }',
  ]);
  return { category: 'invalid ID', expect: 'refused', request: gql(key, random.bool() ? read : mutation, { id }) };
};

/** Cursors that no list returned: garbage, tampered positions, another list's or order's cursors. */
const forgedCursor: Generator = (random, world) => {
  const [scope, key, id] = world.cursor.integrations;
  const cursor = random.pick([
    () => random.string(random.between(1, 60)),
    () => b64(JSON.stringify(random.pick([[], [scope], [scope, key], [scope, key, id, 1], { scope, key, id }, 'x', 1, null]))),
    () =>
      b64(
        JSON.stringify([
          scope,
          random.pick(['yesterday', '2026-13-01', '', '0', "'; drop table integrations; --", 'infinity', 'NaN']),
          id,
        ]),
      ),
    () => b64(JSON.stringify([scope, key, random.pick(['x', '', 'not-a-uuid', `${id}x`])])),
    () => b64(JSON.stringify([scope, 12, id])),
    () => b64(JSON.stringify(['integrations:DISPLAY_NAME:ASC', key, id])),
    () => b64(JSON.stringify(world.cursor.healthChecks)),
    () => b64(JSON.stringify([scope, key.repeat(200), id])),
    () => b64(JSON.stringify([scope, `${key}\u0000`, id])),
    () => b64(JSON.stringify([scope, 'x'.repeat(2_000), id])),
  ])();
  const query = random.pick([
    'query($c: String) { integrations(first: 5, after: $c) { edges { node { id } } } }',
    'query($c: String) { integrations(last: 5, before: $c) { edges { node { id } } } }',
    'query($c: String) { integrations(first: 5, after: $c, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount } }',
    // DESC: a cursor of DISPLAY_NAME ASC, whose key is any string, must not be one of this order's.
    'query($c: String) { integrations(first: 5, after: $c, orderBy: { field: DISPLAY_NAME, direction: DESC }) { totalCount } }',
  ]);
  if (random.bool(0.25)) {
    const checks = `query($id: ID!, $c: String) { integration(id: $id) { healthChecks(first: 2, after: $c) { edges { node { id } } } } }`;
    // The real health-check cursor, one of the integration list's forgeries, is a valid one here.
    const real = b64(JSON.stringify(world.cursor.healthChecks));
    const forged = random.pick([
      b64(JSON.stringify([world.cursor.healthChecks[0], 'not a time', world.cursor.healthChecks[2]])),
      b64(JSON.stringify(world.cursor.integrations)),
      cursor === real ? b64(JSON.stringify([...world.cursor.healthChecks, 1])) : cursor,
    ]);
    return {
      category: 'forged cursor',
      expect: 'refused',
      request: gql(anyKey(random, world), checks, { id: world.own.integrations[0], c: forged }),
    };
  }
  return { category: 'forged cursor', expect: 'refused', request: gql(anyKey(random, world), query, { c: cursor }) };
};

/** Missing, malformed, unknown and revoked API keys. */
const badKey: Generator = (random, world) => {
  const real = world.keys.ADMIN;
  const authorization = random.pick<() => string | null>([
    () => null,
    () => '',
    () => 'Bearer',
    () => 'Bearer ',
    () => `Bearer ${world.revokedKey}`,
    () => `Bearer ${random.string(random.between(1, 80))}`,
    () => `Bearer igw_${random.string(12, '0123456789abcdef')}_${random.string(40)}`,
    () => `Bearer ${real.slice(0, -1)}${real.endsWith('a') ? 'b' : 'a'}`,
    () => `Bearer ${real.slice(0, 20)}`,
    () => `Basic ${Buffer.from(`x:${real}`).toString('base64')}`,
    () => `bearer  ${world.revokedKey}`,
    () => `Bearer ${real} ${real}`,
    () => `Token ${real}`,
    () => `Bearer ${'k'.repeat(random.between(1_000, 8_000))}`,
  ])();
  const headers: Record<string, string> = authorization === null ? {} : { authorization };
  const query = random.pick([
    VALID_QUERY,
    'mutation { createApiKey(input: { role: ADMIN }) { key } }',
    '{ __schema { types { name } } }',
    '{ nope',
  ]);
  return { category: 'invalid or revoked key', expect: 'refused', request: gql(null, query, undefined, headers) };
};

/** Idempotency-Keys that are too long, empty, or not printable ASCII, on mutations that would run. */
const badIdempotencyKey: Generator = (random, world) => {
  const value = random.pick([
    () => 'k'.repeat(random.between(256, 6_000)),
    () => '',
    () => `"${'q'.repeat(random.between(256, 400))}"`,
    () => `key-${String.fromCharCode(random.between(0x80, 0xff))}-${random.string(8)}`,
    () => `a\tb${random.string(4)}`,
  ])();
  const mutation = random.pick([
    'mutation { createApiKey(input: { role: VIEWER, name: "fuzz" }) { key apiKey { id } userErrors { code } } }',
    `mutation { revokeIntegration(input: { id: "${world.own.integrations[1]}" }) { integration { status } userErrors { code } } }`,
    `mutation { refreshIntegration(input: { id: "${world.own.integrations[2]}", webhook: { enabled: false, events: ["fuzz"] } }) ` +
      '{ integration { id } userErrors { code } } }',
  ]);
  return {
    category: 'invalid Idempotency-Key',
    expect: 'refused',
    request: gql(world.keys.ADMIN, mutation, undefined, { 'idempotency-key': value }),
  };
};

/** Mutations with inputs their services refuse, or from a role that may not make them. */
const badMutation: Generator = (random, world) => {
  const own = random.pick(world.own.integrations);
  const connect = (input: string) =>
    `mutation { connectIntegration(input: { ${input} }) { integration { id } authorizationUrl userErrors { code field } } }`;
  const [key, query] = random.pick<() => [string, string]>([
    () => [
      world.keys.EDITOR,
      connect(
        `provider: "${random.pick(['nope', '', 'GITHUB', 'github ', '../etc', 'x'.repeat(300)])}", ` +
          'authKind: API_TOKEN, displayName: "x", credentials: { token: "t" }',
      ),
    ],
    () => [
      world.keys.EDITOR,
      connect(`provider: "slack", authKind: BASIC, displayName: "x", credentials: { username: "u", password: "p" }`),
    ],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "github", authKind: API_TOKEN, ' +
          `displayName: ${JSON.stringify(random.pick(['', '   ', 'x'.repeat(201), 'a\u0001b']))}, credentials: { token: "t" }`,
      ),
    ],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "github", authKind: API_TOKEN, displayName: "x", ' +
          `credentials: { token: ${JSON.stringify(random.pick(['', '  ', 'has space', 't'.repeat(8_193)]))} }`,
      ),
    ],
    () => [world.keys.EDITOR, connect('provider: "github", authKind: API_TOKEN, displayName: "x"')],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "jira", authKind: API_TOKEN, displayName: "x", ' +
          `config: ${random.pick(['{}', '{ site: 1 }', '{ site: "http://169.254.169.254" }', '{ nope: "x" }'])}, ` +
          'credentials: { token: "t" }',
      ),
    ],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "github", authKind: API_TOKEN, displayName: "x", ' +
          `environment: ${JSON.stringify(random.pick(['-bad', 'a b', 'x'.repeat(64)]))}, credentials: { token: "t" }`,
      ),
    ],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "github", authKind: API_TOKEN, displayName: "x", ' +
          `scopes: ${random.pick(['[""]', '["a b"]', JSON.stringify(Array.from({ length: 51 }, (_, i) => `s${i}`))])}, ` +
          'credentials: { token: "t" }',
      ),
    ],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "github", authKind: OAUTH2, displayName: "x", ' +
          `oauth2: { returnUrl: ${JSON.stringify(random.pick(['javascript:alert(1)', 'not a url', '', 'ftp://x/']))} }`,
      ),
    ],
    () => [
      world.keys.EDITOR,
      connect(
        'provider: "http", authKind: API_TOKEN, displayName: "x", ' +
          `config: { baseUrl: ${JSON.stringify(random.pick(['file:///etc/passwd', 'gopher://x', 'not a url']))} }, ` +
          'credentials: { token: "t" }',
      ),
    ],
    () => [
      world.keys.EDITOR,
      `mutation { refreshIntegration(input: { id: "${own}", ` +
        `webhook: { url: ${JSON.stringify(
          random.pick(['javascript:alert(1)', 'not a url', 'ftp://x/', `https://${'x'.repeat(3_000)}.test/`]),
        )} } }) ` +
        '{ integration { id } userErrors { code } } }',
    ],
    () => [
      world.keys.EDITOR,
      `mutation { refreshIntegration(input: { id: "${own}", webhook: { events: ${random.pick(['[""]', '["a b"]', '["x\\u0000"]'])} } }) ` +
        '{ integration { id } userErrors { code } } }',
    ],
    () => [
      world.keys.EDITOR,
      `mutation { refreshIntegration(input: { id: "${own}", webhook: { enabled: true, url: null } }) ` +
        '{ integration { id } userErrors { code } } }',
    ],
    () => [
      world.keys.EDITOR,
      `mutation { revokeIntegration(input: { id: "${world.own.revokedIntegration}" }) { integration { id } userErrors { code } } }`,
    ],
    () => [
      world.keys.EDITOR,
      `mutation { testIntegration(input: { id: "${world.own.revokedIntegration}" }) { healthCheck { id } userErrors { code } } }`,
    ],
    () => [world.keys.VIEWER, `mutation { revokeIntegration(input: { id: "${own}" }) { integration { id } userErrors { code } } }`],
    () => [
      world.keys.VIEWER,
      `mutation { refreshIntegration(input: { id: "${own}", webhook: { enabled: false } }) { integration { id } userErrors { code } } }`,
    ],
    () => [
      random.pick([world.keys.VIEWER, world.keys.EDITOR]),
      'mutation { createApiKey(input: { role: ADMIN }) { key userErrors { code } } }',
    ],
    () => [
      random.pick([world.keys.VIEWER, world.keys.EDITOR]),
      `mutation { revokeApiKey(input: { id: "${world.own.apiKey}" }) { apiKey { id } userErrors { code } } }`,
    ],
    () => [
      world.keys.ADMIN,
      `mutation { createApiKey(input: { role: VIEWER, name: ${JSON.stringify(random.pick(['x'.repeat(300), 'a\u0000b']))} }) ` +
        '{ key userErrors { code } } }',
    ],
    () => [world.keys.VIEWER, '{ apiKeys { id prefix } }'],
  ])();
  return { category: 'bad mutation input', expect: 'refused', request: gql(key, query) };
};

/** U+0000 in strings that reach SQL (PostgreSQL's text and jsonb cannot hold it), as literals or variables. */
const nulStrings: Generator = (random, world) => {
  const nul = `${random.string(random.between(0, 4))}\u0000${random.string(random.between(0, 4))}`;
  const [key, query, variables] = random.pick<() => [string, string, Record<string, unknown>?]>([
    () => [world.keys.VIEWER, 'query($s: String) { integrations(first: 5, filter: { search: $s }) { totalCount } }', { s: nul }],
    () => [world.keys.VIEWER, `{ integrations(first: 5, filter: { environment: ${JSON.stringify(nul)} }) { totalCount } }`],
    () => [
      world.keys.VIEWER,
      'query($p: [String!]) { integrations(first: 5, filter: { providers: $p }) { totalCount } }',
      { p: ['github', nul] },
    ],
    () => [
      world.keys.ADMIN,
      'mutation($n: String) { createApiKey(input: { role: VIEWER, name: $n }) { key userErrors { code } } }',
      { n: nul },
    ],
    () => [
      world.keys.EDITOR,
      `mutation { refreshIntegration(input: { id: "${world.own.integrations[3]}", ` +
        `webhook: { url: ${JSON.stringify(`https://x.test/${nul}`)} } }) { integration { id } userErrors { code } } }`,
    ],
    () => [
      world.keys.EDITOR,
      'mutation($c: JSONObject) { connectIntegration(input: ' +
        '{ provider: "http", authKind: API_TOKEN, displayName: "x", config: $c, credentials: { token: "t" } }) ' +
        '{ integration { id } userErrors { code } } }',
      { c: { baseUrl: 'https://x.test', [nul]: 1 } },
    ],
  ])();
  return { category: 'U+0000 in strings', expect: 'refused', request: gql(key, query, variables) };
};

/** Malformed HTTP itself, over a raw socket. */
const malformedHttp: Generator = (random, world) => {
  const auth = `Authorization: Bearer ${world.keys.VIEWER}\r\n`;
  const body = '{"query":"{ viewer { role } }"}';
  const text = random.pick([
    () => `${random.string(random.between(1, 30), 'ABCDEFG /\\\t')}\r\n\r\n`,
    () => `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n${body}`,
    () =>
      `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n` +
      `Transfer-Encoding: chunked\r\n\r\nZZ\r\n${body}\r\n0\r\n\r\n`,
    () =>
      `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n` +
      'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    () => `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Bad Header: x\r\n\r\n`,
    () => `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    () =>
      `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: ${body.length + 500}\r\nConnection: close\r\n\r\n${body}`,
    () =>
      `GET /graphql?query=${'%'.repeat(random.between(1, 5))}zz HTTP/1.1\r\nHost: x\r\n` +
      `${auth}x-graphql-yoga-csrf: 1\r\nConnection: close\r\n\r\n`,
  ])();
  return { category: 'malformed HTTP', expect: 'refused', raw: Buffer.from(text, 'latin1') };
};

/** How many requests of each kind one run sends (`npm test`), over 1,000 in all; FUZZ_COUNT scales them. */
export const FUZZ_PLAN: [Generator, number][] = [
  [malformedJson, 110],
  [wrongContentType, 90],
  [hugeBody, 24],
  [bomb, 80],
  [wrongArgumentTypes, 300],
  [badIds, 140],
  [forgedCursor, 90],
  [badKey, 100],
  [badIdempotencyKey, 60],
  [badMutation, 150],
  [nulStrings, 40],
  [malformedHttp, 24],
  [mediaTypes, 60],
  [loneSurrogates, 40],
  [disguisedInternalAddress, 40],
  [stalledRequest, 4],
];

/** Requests in one run of the plan as it stands. */
export const FUZZ_PLAN_SIZE = FUZZ_PLAN.reduce((sum, [, count]) => sum + count, 0);

/** The whole run's requests, in order, from one seed: the plan, or `count` requests in its proportions. */
export function generateFuzzCases(random: Random, world: FuzzWorld, count = FUZZ_PLAN_SIZE): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const [generate, share] of FUZZ_PLAN) {
    const times = Math.max(1, Math.round((share * count) / FUZZ_PLAN_SIZE));
    for (let i = 0; i < times; i += 1) cases.push(generate(random, world));
  }
  return cases;
}
