import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { childEnv, startGateway } from './support/process.js';

/** GET /metrics on a connection of its own (no keep-alive), so that the cluster hands each to a worker in turn. */
function answeringProcess(url: string): Promise<{ pid: number; worker: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/metrics`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          const match = /^gateway_process_info\{pid="(\d+)",worker="(\d*)"\} 1$/m.exec(text);
          if (!match) reject(new Error(`no gateway_process_info in /metrics (${res.statusCode})`));
          else resolve({ pid: Number(match[1]), worker: match[2] as string });
        });
      })
      .on('error', reject);
  });
}

/** The distinct processes that answer `attempts` requests. */
async function answeringPids(url: string, attempts = 12): Promise<Map<number, string>> {
  const seen = new Map<number, string>();
  for (let i = 0; i < attempts; i += 1) {
    const { pid, worker } = await answeringProcess(url);
    seen.set(pid, worker);
  }
  return seen;
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

// Starts a cluster of gateway processes (each pays tsx's start-up): slow on a busy machine, not a hang.
describe('WEB_CONCURRENCY: a cluster of gateway processes', { timeout: 180_000 }, () => {
  let database: TestDatabase | null = null;

  beforeAll(async () => {
    if (testDatabaseKind === 'postgres') database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it.skipIf(testDatabaseKind !== 'pglite')('is refused on the embedded database, which belongs to one process', async () => {
    const started = startGateway(childEnv({ WEB_CONCURRENCY: '2', DATA_DIR: '/nonexistent/igw-cluster' }));
    await expect(started).rejects.toThrow(/exited with 1 before listening/);
    await expect(started).rejects.toThrow(/WEB_CONCURRENCY \(or --workers\) is 2, but the embedded database/);
  });

  it.skipIf(testDatabaseKind !== 'postgres')(
    'answers from two processes, replaces one that dies, and drains all on SIGTERM with a request in flight',
    async () => {
      const gateway = await startGateway(childEnv({ WEB_CONCURRENCY: '2', DATABASE_URL: database?.url ?? undefined }), 2);
      let stopped = false;
      try {
        // The background engine runs in one of them only.
        expect(count(gateway.output(), '"msg":"background workers started"')).toBe(1);
        expect(count(gateway.output(), 'background workers are off in this process')).toBe(1);

        const first = await answeringPids(gateway.url);
        expect(first.size).toBe(2);
        expect([...first.values()].sort()).toEqual(['1', '2']);
        expect(first.has(gateway.child.pid as number)).toBe(false);

        const [victim, slot] = [...first.entries()][0] as [number, string];
        process.kill(victim, 'SIGKILL');
        const deadline = Date.now() + 90_000;
        while (count(gateway.output(), '"msg":"gateway listening"') < 3) {
          if (Date.now() > deadline) throw new Error(`no replacement worker started:\n${gateway.output()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(gateway.output()).toContain('"msg":"a gateway worker died: starting another"');
        const after = await answeringPids(gateway.url);
        expect(after.size).toBe(2);
        expect(after.has(victim)).toBe(false);
        // The replacement took the slot of the worker that died.
        expect([...after.values()].sort()).toEqual(['1', '2']);
        expect([...after.entries()].find(([pid]) => !first.has(pid))?.[1]).toBe(slot);

        // Half a request is on the wire when the primary is told to stop.
        const port = Number(new URL(gateway.url).port);
        const body = JSON.stringify({ query: '{ __typename }' });
        const socket = net.connect(port, '127.0.0.1');
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        let response = '';
        socket.on('data', (chunk) => (response += chunk.toString()));
        socket.write(
          'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
            `Authorization: Bearer igw_000000000000_${'x'.repeat(43)}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        const exited = gateway.stop();
        stopped = true;
        await new Promise((resolve) => setTimeout(resolve, 300));
        socket.write(body.slice(5));
        expect(await exited).toBe(0);
        // The request in flight was answered (401: its key is unknown) before its worker left.
        expect(response).toMatch(/^HTTP\/1\.1 401/);
        expect(count(gateway.output(), '"msg":"stopped"')).toBe(2);
        expect(gateway.output()).toContain('"msg":"cluster stopped"');
        socket.destroy();
      } finally {
        if (!stopped) await gateway.crash();
      }
    },
  );
});
