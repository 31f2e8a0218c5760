import { afterEach, describe, expect, it } from 'vitest';
import { type LocalServer, startLocalServer } from '../../test/support/local-http.js';
import { OutboundNetworkError, OutboundTimeoutError } from './errors.js';
import { createHttpClient, type HttpClientOptions, type OutboundHttpClient } from './http-client.js';

const clients: OutboundHttpClient[] = [];
const servers: LocalServer[] = [];
function client(options: Partial<HttpClientOptions> = {}): OutboundHttpClient {
  const created = createHttpClient({
    allowlist: ['127.0.0.1'],
    allowPrivate: false,
    requireHttps: false,
    defaultTimeoutMs: 5_000,
    maxRetries: 3,
    perProviderConcurrency: 4,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    ...options,
  });
  clients.push(created);
  return created;
}
async function server(handler: Parameters<typeof startLocalServer>[0]): Promise<LocalServer> {
  const started = await startLocalServer(handler);
  servers.push(started);
  return started;
}
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('timeouts', () => {
  it('gives up at the deadline with PROVIDER_TIMEOUT', async () => {
    const slow = await server(() => delay(5_000));
    const started = Date.now();
    const error = await client()(`${slow.origin}/`, { timeoutMs: 200 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(OutboundTimeoutError);
    expect((error as OutboundTimeoutError).code).toBe('PROVIDER_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(4_000);
    // The deadline covers retries too: a slow answer is not tried again past it.
    expect(slow.requests).toHaveLength(1);
  });

  it("honours the caller's own signal", async () => {
    const slow = await server(() => delay(2_000));
    const error = await client()(`${slow.origin}/`, { signal: AbortSignal.timeout(100) }).catch((e: Error) => e);
    expect(error).not.toBeInstanceOf(OutboundTimeoutError);
    expect((error as Error).name).toBe('TimeoutError');
  });
});

describe('retries', () => {
  const flaky = (failures: number, status = 503, headers: Record<string, string> = {}) =>
    server((_request, response, index) => {
      if (index < failures) response.writeHead(status, headers).end('busy');
      else response.end('ok');
    });

  it('retries an idempotent call on 502/503/504 with backoff, then succeeds', async () => {
    const provider = await server((_request, response, index) => {
      if (index < 3) response.writeHead([502, 503, 504][index] as number).end();
      else response.end('ok');
    });
    const response = await client()(`${provider.origin}/`);
    expect(await response.text()).toBe('ok');
    expect(provider.requests).toHaveLength(4);
  });

  it('never retries a non-idempotent POST, unless marked idempotent', async () => {
    const provider = await flaky(1);
    const http = client();
    expect((await http(`${provider.origin}/`, { method: 'POST', body: 'x' })).status).toBe(503);
    expect(provider.requests).toHaveLength(1);
    expect((await http(`${provider.origin}/`, { method: 'PUT', body: 'y', idempotent: true })).status).toBe(200);
    expect(provider.requests.map((r) => r.body)).toEqual(['x', 'y']);
  });

  it('stops after maxRetries and returns the last answer', async () => {
    const provider = await flaky(10);
    expect((await client({ maxRetries: 2 })(`${provider.origin}/`)).status).toBe(503);
    expect(provider.requests).toHaveLength(3);
  });

  it('retries a dropped connection for idempotent calls only', async () => {
    const provider = await server((_request, response, index) => {
      if (index === 0 || index === 2) return void response.socket?.destroy();
      response.end('ok');
    });
    expect(await (await client()(`${provider.origin}/`)).text()).toBe('ok');
    const error = await client()(`${provider.origin}/`, { method: 'POST' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(OutboundNetworkError);
    expect((error as OutboundNetworkError).code).toBe('PROVIDER_UNREACHABLE');
  });

  it('honours Retry-After on 429 and 503', async () => {
    for (const status of [429, 503]) {
      const provider = await flaky(1, status, { 'retry-after': '1' });
      const started = Date.now();
      expect((await client()(`${provider.origin}/`)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(provider.requests).toHaveLength(2);
    }
  });

  it('passes a Retry-After longer than the cap (or the deadline) back at once', async () => {
    const provider = await flaky(1, 429, { 'retry-after': '120' });
    const started = Date.now();
    const response = await client({ maxRetryAfterMs: 1_000 })(`${provider.origin}/`);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('120');
    const short = await flaky(1, 429, { 'retry-after': '3' });
    expect((await client()(`${short.origin}/`, { timeoutMs: 500 })).status).toBe(429);
    // Neither waited: honouring either would have taken 3 s or more.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(provider.requests.length + short.requests.length).toBe(2);
  });
});

describe('per-provider concurrency', () => {
  it('holds at most perProviderConcurrency calls at once per provider; other providers have their own slots', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const provider = await server(async (request, response) => {
      if (request.url === '/hold') await gate;
      response.end(request.url);
    });
    const http = client({ perProviderConcurrency: 2 });
    const held = Array.from({ length: 5 }, () => http(`${provider.origin}/hold`, { provider: 'github' }).then((r) => r.text()));
    while (provider.inFlight.now < 2) await delay(10);
    await delay(150);
    // Two are at the server; the other three wait for a slot, without reaching it.
    expect(provider.requests).toHaveLength(2);
    expect(await (await http(`${provider.origin}/other`, { provider: 'gitlab' })).text()).toBe('/other');
    open();
    expect(await Promise.all(held)).toEqual(Array(5).fill('/hold'));
    expect(provider.requests).toHaveLength(6);
    expect(provider.inFlight.max).toBe(3);
  });
});
