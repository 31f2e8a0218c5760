import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createOrgWithKeys, type OrgFixture } from './support/fixtures.js';
import { type GatewayPort, serveOnLoopback } from './support/gateway-port.js';
import { captureLogs, createHardenedTestGateway, type HardenedTestGateway } from './support/hardened-gateway.js';

/**
 * The HTTP edge, over a real loopback port: which bodies are read (415 for the rest), which answers are
 * acceptable (406, q), the CSRF rule, strings that are not text, and how long a stalled client may hold
 * a connection.
 */
let gateway: HardenedTestGateway;
let port: GatewayPort;
let org: OrgFixture;
const logs = captureLogs('warn');
const TIMEOUTS = { headersTimeoutMs: 1_000, requestTimeoutMs: 1_500, keepAliveTimeoutMs: 500, maxConnectionsPerClient: 4 };

beforeAll(async () => {
  gateway = await createHardenedTestGateway({ logger: logs.logger });
  org = await createOrgWithKeys(gateway.db, 'edge');
  port = await serveOnLoopback(gateway.yoga, TIMEOUTS);
});
afterAll(async () => {
  await port?.close();
  await gateway?.close();
});

async function send(init: { headers?: Record<string, string>; body?: string }) {
  const response = await fetch(`${port.origin}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${org.keys.ADMIN}`, ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }) });
  return { status: response.status };
}

/** A raw connection to the gateway's port; resolves when the server closes it, with what it sent. */
function rawConnection(): { socket: Socket; closed: Promise<{ text: string; afterMs: number }> } {
  const started = Date.now();
  const socket = connect(port.port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<{ text: string; afterMs: number }>((resolve) => socket.on('close', () => resolve({ text, afterMs: Date.now() - started })));
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
    socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${org.keys.VIEWER}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
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
    expect(loadConfig({}).http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnectionsPerClient: 256 });
    const config = loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '2000', HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000', HTTP_MAX_CONNECTIONS_PER_CLIENT: '0' });
    expect(config.http).toEqual({ headersTimeoutMs: 2_000, requestTimeoutMs: 5_000, keepAliveTimeoutMs: 65_000, maxConnectionsPerClient: 0 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '40000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
  });
});
