import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { countApiKeys, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { captureLogs } from './support/logs.js';

/**
 * The HTTP edge, over a real loopback port: which bodies are read (415 for the rest), which answers are
 * acceptable (406, q), the CSRF rule, strings that are not text, and how long a stalled client may hold
 * a connection.
 */
let gateway: TestGateway;
let org: OrgFixture;
const logs = captureLogs('warn');
const TIMEOUTS = { headersTimeoutMs: 1_000, requestTimeoutMs: 1_500, keepAliveTimeoutMs: 500, maxConnectionsPerClient: 4 };

beforeAll(async () => {
  gateway = await createTestGateway({ world: true, logger: logs.logger, listen: TIMEOUTS });
  org = gateway.world.acme;
});
afterAll(() => gateway?.close());

const CREATE_KEY = 'mutation { createApiKey(input: { role: VIEWER }) { key } }';

async function send(init: { method?: string; headers?: Record<string, string>; body?: string; query?: string }) {
  const response = await fetch(`${gateway.url}/graphql${init.query ? `?${init.query}` : ''}`, {
    method: init.method ?? 'POST',
    headers: { authorization: `Bearer ${org.keys.ADMIN}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

const codesOf = (body: any) => (body?.errors ?? []).map((error: any) => error.extensions?.code);

describe('request bodies', () => {
  it.each([
    ['text/plain', CREATE_KEY],
    ['text/plain;charset=UTF-8', JSON.stringify({ query: CREATE_KEY })],
    [
      'multipart/form-data; boundary=b',
      `--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: CREATE_KEY })}\r\n--b--\r\n`,
    ],
    ['application/x-www-form-urlencoded', `query=${encodeURIComponent(CREATE_KEY)}`],
    ['application/xml', '<query/>'],
    ['application/json; charset=latin1', JSON.stringify({ query: CREATE_KEY })],
    [null, JSON.stringify({ query: CREATE_KEY })],
  ])('a %s body is 415 UNSUPPORTED_MEDIA_TYPE, with or without a CSRF header, and runs nothing', async (contentType, body) => {
    const before = await countApiKeys(gateway.db);
    for (const csrf of [{}, { 'x-graphql-yoga-csrf': '1' }] as Record<string, string>[]) {
      // fetch gives a string body text/plain when no type is named; a Blob without a type sends none.
      const answer = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${org.keys.ADMIN}`, ...csrf, ...(contentType === null ? {} : { 'content-type': contentType }) },
        body: contentType === null ? new Blob([body]) : body,
      });
      expect(answer.status, `${contentType} ${JSON.stringify(csrf)}`).toBe(415);
      expect(codesOf(await answer.json())).toEqual(['UNSUPPORTED_MEDIA_TYPE']);
    }
    expect(await countApiKeys(gateway.db)).toBe(before);
  });

  it('reads JSON whatever the case of its media type and charset (media types are case-insensitive)', async () => {
    for (const contentType of [
      'APPLICATION/JSON',
      'Application/Json; Charset=UTF-8',
      'application/json;charset="utf-8"',
      'application/json; boundary=x',
    ]) {
      const answer = await send({ headers: { 'content-type': contentType }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
      expect(answer, contentType).toMatchObject({ status: 200, body: { data: { viewer: { role: 'ADMIN' } } } });
    }
    const graphql = await send({ headers: { 'content-type': 'Application/GraphQL' }, body: '{ viewer { role } }' });
    expect(graphql.body.data).toEqual({ viewer: { role: 'ADMIN' } });
  });
});

describe('Accept', () => {
  const query = JSON.stringify({ query: CREATE_KEY });

  it('q=0 excludes a type: nothing acceptable is 406 NOT_ACCEPTABLE, and the mutation does not run', async () => {
    const before = await countApiKeys(gateway.db);
    for (const accept of [
      'application/json;q=0',
      'application/json; q=0, application/graphql-response+json;q=0',
      'application/json;q=0, text/html',
    ]) {
      const answer = await send({ headers: { 'content-type': 'application/json', accept }, body: query });
      expect(answer.status, accept).toBe(406);
      expect(codesOf(answer.body)).toEqual(['NOT_ACCEPTABLE']);
    }
    expect(await countApiKeys(gateway.db)).toBe(before);
  });

  it('answers in the type the client prefers by q, and reads media types case-insensitively', async () => {
    const cases: [string, string][] = [
      ['application/graphql-response+json;q=0, application/json', 'application/json'],
      ['application/json;q=0, application/graphql-response+json', 'application/graphql-response+json'],
      ['application/json;q=0.5, application/graphql-response+json;q=0.9', 'application/graphql-response+json'],
      ['application/graphql-response+json;q=0.5, application/json', 'application/json'],
      ['APPLICATION/JSON', 'application/json'],
      ['application/json; charset=UTF-8', 'application/json'],
      ['*/*', 'application/json'],
      ['application/graphql-response+json, application/json', 'application/graphql-response+json'],
    ];
    for (const [accept, type] of cases) {
      const answer = await send({
        headers: { 'content-type': 'application/json', accept },
        body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      expect(answer.status, accept).toBe(200);
      expect(answer.contentType?.split(';')[0], accept).toBe(type);
    }
  });
});

describe('CSRF', () => {
  const get = `query=${encodeURIComponent('{ viewer { role } }')}`;

  it('serves a GET that carries a Bearer key without a CSRF header: a browser cannot add one to a simple request', async () => {
    const answer = await send({ method: 'GET', query: get, headers: { accept: 'application/json' } });
    expect(answer).toMatchObject({ status: 200, body: { data: { viewer: { role: 'ADMIN' } } } });
  });

  it('answers a GET without a key 401, whatever it carries', async () => {
    for (const headers of [
      { authorization: '' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: '', cookie: 'session=1' },
    ] as Record<string, string>[]) {
      const answer = await send({ method: 'GET', query: get, headers: { accept: 'application/json', ...headers } });
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(codesOf(answer.body)).toEqual(['UNAUTHENTICATED']);
    }
  });
});

describe('strings that are not text', () => {
  const graphqlResponse = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

  it('refuses a lone surrogate in a variable as BAD_USER_INPUT and stores nothing (was: stored as U+FFFD)', async () => {
    const before = await countApiKeys(gateway.db);
    for (const name of ['a\ud800b', '\udc00', 'x\ud83d']) {
      // JSON.stringify writes a lone surrogate as an escape (\ud800), as any JSON encoder may.
      const body = JSON.stringify({
        query: 'mutation($n: String) { createApiKey(input: { role: VIEWER, name: $n }) { key } }',
        variables: { n: name },
      });
      const answer = await send({ headers: graphqlResponse, body });
      expect(answer.status).toBe(400);
      expect(codesOf(answer.body)).toEqual(['BAD_USER_INPUT']);
    }
    const inKey = JSON.stringify({
      query:
        'mutation($c: JSONObject) { connectIntegration(input: ' +
        '{ provider: "http", authKind: API_TOKEN, displayName: "x", config: $c, credentials: { token: "t" } }) { userErrors { code } } }',
      variables: { c: { baseUrl: 'https://x.test', 'k\udfff': 1 } },
    });
    expect(codesOf((await send({ headers: graphqlResponse, body: inKey })).body)).toEqual(['BAD_USER_INPUT']);
    expect(await countApiKeys(gateway.db)).toBe(before);
  });

  it('refuses a lone surrogate written in the document as a parse failure', async () => {
    for (const literal of ['"a\\ud800"', '"a\ud800"']) {
      const body = JSON.stringify({ query: `mutation { createApiKey(input: { role: VIEWER, name: ${literal} }) { key } }` });
      expect(codesOf((await send({ headers: graphqlResponse, body })).body), literal).toEqual(['GRAPHQL_PARSE_FAILED']);
    }
  });

  it('reads bytes that are not UTF-8 as U+FFFD, as browsers decode text', async () => {
    const [head, tail] = JSON.stringify({
      query: 'mutation($n: String) { createApiKey(input: { role: VIEWER, name: $n }) { apiKey { name } } }',
      variables: { n: 'a#b' },
    }).split('#');
    const body = Buffer.concat([Buffer.from(head!), Buffer.from([0xff]), Buffer.from(tail!)]);
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.keys.ADMIN}`, ...graphqlResponse },
      body,
    });
    expect((await response.json()).data.createApiKey.apiKey.name).toBe('a\ufffdb');
  });

  it('keeps characters outside the BMP, written as a surrogate pair, as they are', async () => {
    const body = JSON.stringify({
      query: 'mutation($n: String) { createApiKey(input: { role: VIEWER, name: $n }) { apiKey { name } } }',
      variables: { n: 'bot \ud83d\ude00' },
    });
    expect((await send({ headers: graphqlResponse, body })).body.data.createApiKey.apiKey.name).toBe('bot 😀');
  });
});

/** A raw connection to the gateway's port; resolves when the server closes it, with what it sent. */
function rawConnection(): { socket: Socket; closed: Promise<{ text: string; afterMs: number }> } {
  const started = Date.now();
  const socket = connect(gateway.port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<{ text: string; afterMs: number }>((resolve) =>
    socket.on('close', () => resolve({ text, afterMs: Date.now() - started })),
  );
  return { socket, closed };
}

/** A deadline met with room to spare for a loaded machine, far below Node's defaults (60 s, 300 s). */
const WITHIN_MS = 8_000;

describe('connections that stall', () => {
  it('answers 408 to a request whose headers stall, within the headers deadline', async () => {
    const { socket, closed } = rawConnection();
    socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${org.keys.VIEWER}\r\n`);
    const { text, afterMs } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(TIMEOUTS.headersTimeoutMs - 50);
    expect(afterMs).toBeLessThan(WITHIN_MS);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers 408 to an authenticated request whose body stalls, within the request deadline, and stays well', async () => {
    const { socket, closed } = rawConnection();
    const body = JSON.stringify({ query: '{ viewer { role } }' });
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${org.keys.VIEWER}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    const { text, afterMs } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(TIMEOUTS.requestTimeoutMs - 50);
    expect(afterMs).toBeLessThan(WITHIN_MS);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(logs.lines().filter((line) => line.level >= 50)).toEqual([]);
    expect((await send({ headers: { 'content-type': 'application/json' }, body })).status).toBe(200);
  });

  it('closes an idle keep-alive connection after the keep-alive deadline', async () => {
    const { socket, closed } = rawConnection();
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text, afterMs } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(afterMs).toBeLessThan(WITHIN_MS);
  });

  it('closes connections of one client beyond its cap as they arrive, and serves the others', async () => {
    const held = Array.from({ length: TIMEOUTS.maxConnectionsPerClient }, () => rawConnection());
    await Promise.all(held.map(({ socket }) => new Promise((resolve) => socket.once('connect', resolve))));
    // Let the server see every held connection before the extra one arrives.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const extra = rawConnection();
    const { text, afterMs } = await extra.closed;
    expect(text).toBe('');
    expect(afterMs).toBeLessThan(TIMEOUTS.keepAliveTimeoutMs);
    const [first] = held;
    first!.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await first!.closed).text).toMatch(/^HTTP\/1\.1 200/);
    for (const { socket } of held) socket.destroy();
  });
});

describe('configuration', () => {
  it('reads the HTTP deadlines and the per-client cap, and refuses a headers deadline past the request deadline', () => {
    expect(loadConfig({}).http).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxConnectionsPerClient: 256,
    });
    const config = loadConfig({
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
      HTTP_MAX_CONNECTIONS_PER_CLIENT: '0',
    });
    expect(config.http).toEqual({
      headersTimeoutMs: 2_000,
      requestTimeoutMs: 5_000,
      keepAliveTimeoutMs: 65_000,
      maxConnectionsPerClient: 0,
    });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '40000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
  });
});
