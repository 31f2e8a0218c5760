import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { graphiqlOptions } from './support/graphiql-page.js';
import { sendGraphQL } from './support/request.js';
import { childEnv, type RunningGateway, startGateway } from './support/process.js';

const DEMO_KEY = /Bearer (igw_[0-9a-f]{12}_[A-Za-z0-9_-]{43})/;
const GET_A_KEY = 'npm run cli -- keys create --org demo --role admin';

/** The headers GraphiQL's page opens with, if any. */
function graphiqlHeaders(html: string): Record<string, string> | undefined {
  const { headers } = graphiqlOptions(html);
  return headers === undefined ? undefined : JSON.parse(headers);
}

async function query(gateway: RunningGateway, key: string, document: string) {
  const { status, body } = await sendGraphQL(gateway.url, { key, query: document, headers: { accept: null } });
  return { status, body };
}

// Each case starts gateway processes (tsx compiles on start): slow on a busy machine, not a hang.
describe('the gateway process (npm start)', { timeout: 120_000 }, () => {
  let dataDir: string;
  let database: TestDatabase | null = null;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-main-'));
    if (testDatabaseKind === 'postgres') {
      database = await createTestDatabase();
      // The process must apply migrations itself: start it on an empty database.
      await database.close();
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: database.url ?? '' });
      await client.connect();
      await client.query('drop schema public cascade; create schema public;');
      await client.end();
    }
    env = childEnv({ DATA_DIR: dataDir, DATABASE_URL: database?.url ?? undefined });
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('migrates an empty database, seeds the demo organization once, and keeps data across restarts', async () => {
    const first = await startGateway(env);
    let demoKey: string;
    try {
      demoKey = DEMO_KEY.exec(first.output())?.[1] ?? '';
      expect(demoKey).not.toBe('');
      expect(first.output()).toContain('"msg":"applied migrations"');
      const viewer = await query(first, demoKey, '{ viewer { role organization { slug } } }');
      expect(viewer.body.data.viewer).toEqual({ role: 'ADMIN', organization: { slug: 'demo' } });
      expect((await fetch(`${first.url}/ready`)).status).toBe(200);
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
      const page = await fetch(`${first.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      // GraphiQL opens with the key this process printed.
      expect(graphiqlHeaders(await page.text())).toEqual({ Authorization: `Bearer ${demoKey}` });
    } finally {
      expect(await first.stop()).toBe(0);
    }
    // The key is printed to the terminal only: no log line carries it.
    const logLines = first
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'));
    expect(logLines.some((line) => line.includes(demoKey))).toBe(false);

    const second = await startGateway(env);
    try {
      expect(second.output()).not.toMatch(DEMO_KEY);
      expect(second.output()).not.toContain('applied migrations');
      expect((await query(second, demoKey, '{ viewer { role } }')).body.data.viewer.role).toBe('ADMIN');
      // The key was shown once; the way to another one is shown every time until other keys are in use.
      expect(second.output()).toContain(GET_A_KEY);
      const page = await fetch(`${second.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(graphiqlHeaders(await page.text())).toBeUndefined();

      const created = await query(
        second,
        demoKey,
        'mutation { createApiKey(input: { role: VIEWER, name: "dashboard" }) { key apiKey { id } } }',
      );
      const { key: otherKey } = created.body.data.createApiKey;
      expect((await query(second, otherKey, '{ viewer { role } }')).body.data.viewer.role).toBe('VIEWER');
      // Use is recorded in the background: wait until it is.
      await expect
        .poll(
          async () =>
            (await query(second, demoKey, '{ apiKeys { name lastUsedAt } }')).body.data.apiKeys.find(
              (k: { name: string }) => k.name === 'dashboard',
            )?.lastUsedAt,
          { timeout: 10_000 },
        )
        .toBeTruthy();
    } finally {
      expect(await second.stop()).toBe(0);
    }

    const third = await startGateway(env);
    try {
      expect((await fetch(`${third.url}/health`)).status).toBe(200);
      expect(third.output()).not.toContain(GET_A_KEY);
      expect(third.output()).not.toMatch(DEMO_KEY);
    } finally {
      expect(await third.stop()).toBe(0);
    }
  });

  it('on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    const gateway = await startGateway(env);
    const port = Number(new URL(gateway.url).port);
    const body = JSON.stringify({ query: '{ __typename }' });
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let response = '';
    socket.on('data', (chunk) => (response += chunk.toString()));
    // Half a request is on the wire when the signal arrives.
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer igw_000000000000_${'x'.repeat(43)}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = gateway.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(fetch(`${gateway.url}/health`)).rejects.toThrow();
    socket.write(body.slice(5));
    expect(await exited).toBe(0);
    // The request in flight was answered (401: its key is unknown) before the process left.
    expect(response).toMatch(/^HTTP\/1\.1 401/);
    expect(gateway.output()).toContain('"msg":"stopped"');
    socket.destroy();
  });
});
