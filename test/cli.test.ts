import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.js';
import { createGateway } from '../src/server.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { childEnv, runCli } from './support/process.js';
import { testServices } from './support/services.js';

// Each case starts several CLI processes (tsx compiles on start): slow on a busy machine, not a hang.
describe('CLI', { timeout: 120_000 }, () => {
  let dataDir: string;
  let database: TestDatabase | null = null;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-cli-'));
    // On PostgreSQL the CLI works on this file's isolated database; otherwise on an embedded one in dataDir.
    if (testDatabaseKind === 'postgres') database = await createTestDatabase();
    env = childEnv({ DATA_DIR: dataDir, DATABASE_URL: database?.url ?? undefined });
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A gateway over the same database the CLI wrote to. */
  async function withGateway<T>(run: (fetchGraphQL: (key: string, query: string) => Promise<Response>) => Promise<T>): Promise<T> {
    const handle = database ?? (await openDatabase({ kind: 'pglite', dataDir }));
    const logger = pino({ level: 'silent' });
    const yoga = createGateway({ database: handle, logger, services: testServices(logger) });
    try {
      return await run(async (key, query) =>
        yoga.fetch('http://gateway.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query }),
        }),
      );
    } finally {
      await yoga.dispose();
      if (!database) await handle.close();
    }
  }

  it('migrates, creates an organization and a key, and the key queries the gateway', async () => {
    expect((await runCli(['migrate', '--json'], env)).stdout).toContain('"ok": true');
    const org = await runCli(['orgs', 'create', 'acme', '--name', 'Acme Inc', '--json'], env);
    expect(org.code).toBe(0);
    expect(JSON.parse(org.stdout)).toMatchObject({ slug: 'acme', name: 'Acme Inc' });

    const created = await runCli(['keys', 'create', '--org', 'acme', '--role', 'editor', '--name', 'ci', '--json'], env);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(Object.keys(key).sort()).toEqual(['id', 'key', 'organization', 'prefix', 'role']);
    expect(key).toMatchObject({ role: 'EDITOR', organization: 'acme' });
    expect(key.key.startsWith(`${key.prefix}_`)).toBe(true);

    await withGateway(async (fetchGraphQL) => {
      const res = await fetchGraphQL(key.key, '{ viewer { role organization { slug } apiKey { id name prefix } } }');
      expect(res.status).toBe(200);
      expect((await res.json()).data.viewer).toEqual({
        role: 'EDITOR',
        organization: { slug: 'acme' },
        apiKey: { id: key.id, name: 'ci', prefix: key.prefix },
      });
    });

    const listed = JSON.parse((await runCli(['keys', 'list', '--org', 'acme', '--json'], env)).stdout);
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(key.key);

    const revoked = await runCli(['keys', 'revoke', key.id, '--json'], env);
    expect(revoked.code).toBe(0);
    await withGateway(async (fetchGraphQL) => {
      expect((await fetchGraphQL(key.key, '{ viewer { role } }')).status).toBe(401);
    });
    const again = await runCli(['keys', 'revoke', key.id, '--json'], env);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr).error.code).toBe('ALREADY_REVOKED');

    const orgs = JSON.parse((await runCli(['orgs', 'list', '--json'], env)).stdout);
    expect(orgs.map((o: { slug: string }) => o.slug)).toEqual(['acme']);
  });

  it('prints usage and exits non-zero on wrong arguments', async () => {
    for (const args of [
      ['keys', 'create', '--org', 'acme', '--role', 'owner'],
      ['keys', 'create', '--role', 'viewer'],
      ['orgs', 'create'],
      ['keys', 'revoke', 'not-an-id'],
      ['frobnicate'],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr, args.join(' ')).toContain('Usage:');
    }
  });

  it('refuses invalid and duplicate organizations and unknown orgs with a clear message', async () => {
    const bad = await runCli(['orgs', 'create', 'Not A Slug!'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/slug/i);
    const duplicate = await runCli(['orgs', 'create', 'acme', '--json'], env);
    expect(JSON.parse(duplicate.stderr).error.code).toBe('CONFLICT');
    const unknown = await runCli(['keys', 'list', '--org', 'nope', '--json'], env);
    expect(JSON.parse(unknown.stderr).error.code).toBe('NOT_FOUND');
  });
});
