import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalServer, startLocalServer } from '../../test/support/local-http.js';
import { OutboundBlockedError, OutboundNetworkError } from './errors.js';
import { createHttpClient, type HttpClientOptions, type OutboundHttpClient } from './http-client.js';

const TOKEN = 'Bearer ghp_never_in_an_error';
const clients: OutboundHttpClient[] = [];
function client(options: Partial<HttpClientOptions> = {}): OutboundHttpClient {
  const created = createHttpClient({
    allowlist: [],
    allowPrivate: false,
    requireHttps: false,
    defaultTimeoutMs: 5_000,
    maxRetries: 0,
    perProviderConcurrency: 4,
    ...options,
  });
  clients.push(created);
  return created;
}

/** The error a call rejected with, checked to carry nothing secret. */
async function rejection(call: Promise<unknown>): Promise<Error & { code?: string }> {
  const error = await call.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (caught: Error) => caught,
  );
  expect(`${error.message} ${error.stack}`).not.toContain('ghp_never_in_an_error');
  expect(error.message).not.toContain('token=');
  return error;
}

describe('outbound policy on real connections', () => {
  let server: LocalServer;
  beforeEach(async () => {
    server = await startLocalServer((_request, response) => response.end('ok'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  it('refuses loopback, private and metadata addresses that are not allow-listed, sending nothing', async () => {
    const http = client();
    for (const url of [
      `${server.origin}/x?token=abc`,
      `http://[::1]:${server.port}/`,
      `http://[::ffff:127.0.0.1]:${server.port}/`,
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      `http://0.0.0.0:${server.port}/`,
    ]) {
      const error = await rejection(http(url, { headers: { authorization: TOKEN } }));
      expect(error, url).toBeInstanceOf(OutboundBlockedError);
      expect(error.code).toBe('OUTBOUND_BLOCKED');
    }
    expect(server.requests).toHaveLength(0);
  });

  it('refuses metadata and internal addresses written as IPv6 forms that embed them, private networks allowed or not', async () => {
    const development = client({ allowPrivate: true });
    for (const url of [
      'http://[::a9fe:a9fe]/latest/meta-data/',
      'http://[::169.254.169.254]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[2002:a9fe:a9fe::1]/',
      'http://[::ffff:0:a9fe:a9fe]/',
    ]) {
      expect(await rejection(development(url, { headers: { authorization: TOKEN } })), url).toBeInstanceOf(OutboundBlockedError);
    }
    for (const host of ['[::7f00:1]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::1]']) {
      expect(await rejection(client()(`http://${host}:${server.port}/`)), host).toBeInstanceOf(OutboundBlockedError);
    }
    expect(server.requests).toHaveLength(0);
  });

  it("refuses 'localhost' (it resolves to loopback) unless allow-listed", async () => {
    const url = `http://localhost:${server.port}/`;
    const error = await rejection(client()(url, { headers: { authorization: TOKEN } }));
    expect(error).toBeInstanceOf(OutboundBlockedError);
    expect(error.message).toContain('localhost');
    expect(server.requests).toHaveLength(0);
    expect((await client({ allowlist: ['localhost'] })(url)).status).toBe(200);
    expect(server.requests).toHaveLength(1);
  });

  it('reaches an allow-listed address, or loopback when private networks are allowed', async () => {
    expect(await (await client({ allowlist: ['127.0.0.1'] })(`${server.origin}/a`)).text()).toBe('ok');
    expect(await (await client({ allowlist: ['127.0.0.0/8'], requireHttps: true })(`${server.origin}/b`)).text()).toBe('ok');
    expect((await client({ allowPrivate: true })(`${server.origin}/c`)).status).toBe(200);
    expect(server.requests.map((r) => r.url)).toEqual(['/a', '/b', '/c']);
  });

  it('refuses plain http when https is required, unless allow-listed', async () => {
    const error = await rejection(client({ allowPrivate: true, requireHttps: true })(`${server.origin}/`));
    expect(error.message).toMatch(/https is required/);
    expect(server.requests).toHaveLength(0);
  });

  it('checks the address at connect time: a name answering with internal addresses is refused, Host is kept', async () => {
    let answers = 0;
    const resolve = async (hostname: string) => {
      answers += 1;
      return hostname === 'rebind.test' ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }];
    };
    expect(await rejection(client({ resolve })(`http://rebind.test:${server.port}/`))).toBeInstanceOf(OutboundBlockedError);
    expect(await rejection(client({ resolve, allowPrivate: true })(`http://metadata.test:${server.port}/`))).toBeInstanceOf(
      OutboundBlockedError,
    );
    expect(server.requests).toHaveLength(0);
    const allowed = await client({ resolve, allowlist: ['127.0.0.1'] })(`http://rebind.test:${server.port}/x`);
    expect(allowed.status).toBe(200);
    expect(server.requests[0]?.headers.host).toBe(`rebind.test:${server.port}`);
    expect(answers).toBe(3);
  });

  it('refuses non-http schemes', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/', 'not a url']) {
      expect(await rejection(client({ allowPrivate: true })(url)), url).toBeInstanceOf(OutboundBlockedError);
    }
  });
});

describe('redirects', () => {
  let target: LocalServer;
  let redirector: LocalServer;
  let location = '';
  let status = 302;
  beforeEach(async () => {
    status = 302;
    target = await startLocalServer((_request, response) => response.end('landed'));
    redirector = await startLocalServer((request, response) => {
      if (request.url === '/final') return void response.end('same origin');
      response.writeHead(status, { location }).end();
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all([target.close(), redirector.close()]);
  });

  it('refuses a redirect from an allowed host to a blocked one', async () => {
    const http = client({ allowlist: ['127.0.0.1'] });
    for (const next of [
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      `http://127.0.0.2:${target.port}/`,
      'file:///etc/passwd',
    ]) {
      location = next;
      expect(await rejection(http(`${redirector.origin}/start`, { headers: { authorization: TOKEN } })), next).toBeInstanceOf(
        OutboundBlockedError,
      );
    }
    expect(target.requests).toHaveLength(0);
  });

  it('follows allowed redirects, dropping credentials across origins and the body after a 303', async () => {
    const http = client({ allowlist: ['127.0.0.1'] });
    location = '/final';
    expect(await (await http(`${redirector.origin}/start`)).text()).toBe('same origin');
    location = `${target.origin}/elsewhere`;
    status = 303;
    const response = await http(`${redirector.origin}/start`, {
      method: 'POST',
      body: 'a=1',
      headers: { authorization: TOKEN, 'x-api-key': 'k', accept: 'application/json' },
    });
    expect(await response.text()).toBe('landed');
    const seen = target.requests[0];
    expect(seen).toMatchObject({ method: 'GET', url: '/elsewhere', body: '' });
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers['x-api-key']).toBeUndefined();
    expect(seen?.headers.accept).toBe('application/json');
  });

  it('refuses to carry a body to another origin on a 307 or 308, and keeps it within the origin', async () => {
    const http = client({ allowlist: ['127.0.0.1'] });
    location = `${target.origin}/elsewhere`;
    for (const code of [307, 308]) {
      status = code;
      const body = JSON.stringify({ access_token: 'ghp_never_in_an_error' });
      const error = await rejection(
        http(`${redirector.origin}/start`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
      );
      expect(error, String(code)).toBeInstanceOf(OutboundNetworkError);
    }
    expect(target.requests).toHaveLength(0);
    status = 307;
    location = '/final';
    const response = await http(`${redirector.origin}/start`, { method: 'POST', body: 'a=1' });
    expect(await response.text()).toBe('same origin');
    expect(redirector.requests.at(-1)).toMatchObject({ method: 'POST', url: '/final', body: 'a=1' });
  });

  it('gives up after 5 redirects, and passes a redirect back when asked to', async () => {
    location = '/loop';
    const error = await rejection(client({ allowlist: ['127.0.0.1'] })(`${redirector.origin}/loop`));
    expect(error).toBeInstanceOf(OutboundNetworkError);
    expect(error.code).toBe('PROVIDER_UNREACHABLE');
    expect(redirector.requests).toHaveLength(6);
    const manual = await client({ allowlist: ['127.0.0.1'] })(`${redirector.origin}/loop`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
  });
});
