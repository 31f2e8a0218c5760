import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalServer, type SeenRequest, startLocalServer } from '../../test/support/local-http.js';
import { OutboundBlockedError, OutboundNetworkError, OutboundTimeoutError } from './errors.js';
import { createHttpClient, type OutboundHttpClient } from './http-client.js';

const clients: OutboundHttpClient[] = [];
const servers: LocalServer[] = [];

function client(allowPrivate = true): OutboundHttpClient {
  const created = createHttpClient({
    allowlist: [],
    allowPrivate,
    requireHttps: false,
    defaultTimeoutMs: 5_000,
    maxRetries: 2,
    perProviderConcurrency: 4,
  });
  clients.push(created);
  return created;
}

async function server(handler: (request: SeenRequest, response: ServerResponse) => unknown): Promise<LocalServer> {
  const started = await startLocalServer(handler);
  servers.push(started);
  return started;
}

const post = { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' }, body: '{"a":1}' };

describe('send: one request answered as it is (webhook attempts)', () => {
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('sends the body and headers once, and reads at most the limit of the answer', async () => {
    const receiver = await server((_request, response) => {
      response.writeHead(201, { 'retry-after': '7', 'x-many': ['a', 'b'] }).end('x'.repeat(10_000));
    });
    const http = client();
    const first = await http.send(`${receiver.origin}/hooks`, post);
    expect(first.status).toBe(201);
    expect(first.header('Retry-After')).toBe('7');
    expect(first.header('x-many')).toBe('a');
    expect(first.header('absent')).toBeNull();
    expect(await first.text(4_096)).toBe('x'.repeat(4_096));
    const second = await http.send(`${receiver.origin}/hooks`, post);
    expect(await second.text(4_096)).toHaveLength(4_096);
    expect(receiver.requests.map((request) => [request.method, request.body, request.headers['webhook-id']])).toEqual([
      ['POST', '{"a":1}', 'msg_1'],
      ['POST', '{"a":1}', 'msg_1'],
    ]);
  });

  it('answers a redirect or a server error as it is: never followed, never retried', async () => {
    const receiver = await server((request, response) => {
      if (request.url === '/moved') response.writeHead(307, { location: '/hooks' }).end();
      else response.writeHead(503).end('busy');
    });
    const http = client();
    expect((await http.send(`${receiver.origin}/moved`, post)).status).toBe(307);
    const busy = await http.send(`${receiver.origin}/hooks`, post);
    expect([busy.status, await busy.text(100)]).toEqual([503, 'busy']);
    expect(receiver.requests.map((request) => request.url)).toEqual(['/moved', '/hooks']);
  });

  it('refuses what the policy forbids before connecting', async () => {
    const receiver = await server((_request, response) => response.end());
    const http = client(false);
    await expect(http.send(`${receiver.origin}/hooks`, post)).rejects.toBeInstanceOf(OutboundBlockedError);
    await expect(http.send('ftp://example.com/x', post)).rejects.toBeInstanceOf(OutboundBlockedError);
    await expect(http.send('not a url', post)).rejects.toBeInstanceOf(OutboundBlockedError);
    expect(receiver.requests).toHaveLength(0);
  });

  it('keeps one deadline from the request to the last byte read', async () => {
    const silent = await server(() => new Promise(() => {}));
    const http = client();
    await expect(http.send(`${silent.origin}/hooks`, { ...post, timeoutMs: 300 })).rejects.toBeInstanceOf(OutboundTimeoutError);
    // Headers at once, then a body that never ends: reading it runs into the same deadline.
    const trickle = await server((_request, response) => {
      response.writeHead(200);
      response.write('partial');
    });
    const answer = await http.send(`${trickle.origin}/hooks`, { ...post, timeoutMs: 1_000 });
    expect(answer.status).toBe(200);
    await expect(answer.text(4_096)).rejects.toBeInstanceOf(OutboundTimeoutError);
  });

  it('reports a refused connection as a network error naming only its code', async () => {
    const gone = await server((_request, response) => response.end());
    const url = `${gone.origin}/hooks`;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const error = await client()
      .send(url, post)
      .catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(OutboundNetworkError);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });
});
