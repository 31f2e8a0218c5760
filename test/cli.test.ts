import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../src/db/connection.js';
import { embeddedSocketPath } from '../src/db/embedded-server.js';
import { insertApiKey } from '../src/modules/api-key/api-key.repository.js';
import { requireOrganization } from '../src/modules/organization/organization.service.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { childEnv, runCli, startGateway } from './support/process.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';

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
  async function withGateway<T>(run: (gateway: TestGateway) => Promise<T>): Promise<T> {
    const handle = database ?? (await openDatabase({ kind: 'pglite', dataDir }));
    const gateway = await createTestGateway({ database: handle });
    try {
      return await run(gateway);
    } finally {
      await gateway.close();
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

    await withGateway(async (gateway) => {
      const query = '{ viewer { role organization { slug } apiKey { id name prefix } } }';
      const res = await sendGraphQL(gateway, { key: key.key, query, headers: { accept: null } });
      expect(res.status).toBe(200);
      expect(res.body.data.viewer).toEqual({
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
    await withGateway(async (gateway) => {
      expect((await sendGraphQL(gateway, { key: key.key, query: '{ viewer { role } }', headers: { accept: null } })).status).toBe(401);
    });
    const again = await runCli(['keys', 'revoke', key.id, '--json'], env);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr).error.code).toBe('ALREADY_REVOKED');

    const orgs = JSON.parse((await runCli(['orgs', 'list', '--json'], env)).stdout);
    expect(orgs.map((o: { slug: string }) => o.slug)).toEqual(['acme']);
  });

  it('revokes a key by its visible prefix; an unknown, ambiguous or malformed prefix changes nothing', async () => {
    const handle: DatabaseHandle = database ?? (await openDatabase({ kind: 'pglite', dataDir }));
    try {
      const acme = await requireOrganization(handle.db, 'acme');
      for (const prefix of ['igw_abcd00000001', 'igw_abcd00000002']) {
        await insertApiKey(handle.db, {
          organizationId: acme.id,
          name: prefix,
          role: 'VIEWER',
          prefix,
          keyHash: randomBytes(32).toString('hex'),
        });
      }
    } finally {
      if (!database) await handle.close();
    }
    const states = async () =>
      Object.fromEntries(
        (
          JSON.parse((await runCli(['keys', 'list', '--org', 'acme', '--include-revoked', '--json'], env)).stdout) as {
            prefix: string;
            revokedAt: string | null;
          }[]
        )
          .filter((k) => k.prefix.startsWith('igw_abcd'))
          .map((k) => [k.prefix, k.revokedAt !== null]),
      );
    const untouched = { igw_abcd00000001: false, igw_abcd00000002: false };

    const ambiguous = await runCli(['keys', 'revoke', 'igw_abcd', '--json'], env);
    expect(ambiguous.code).toBe(1);
    const error = JSON.parse(ambiguous.stderr).error;
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toContain('igw_abcd00000001, igw_abcd00000002');
    const unknown = await runCli(['keys', 'revoke', 'igw_ffff00000000', '--json'], env);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr).error.code).toBe('NOT_FOUND');
    const malformed = await runCli(['keys', 'revoke', 'igw_xyz'], env);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^error: .*prefix/);
    expect(await states()).toEqual(untouched);

    const revoked = await runCli(['keys', 'revoke', 'igw_abcd00000001', '--json'], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout).prefix).toBe('igw_abcd00000001');
    expect(await states()).toEqual({ ...untouched, igw_abcd00000001: true });
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

// A gateway serves the embedded database on a socket in DATA_DIR; on PostgreSQL the CLI connects as the gateway does.
describe.skipIf(testDatabaseKind === 'postgres')('CLI beside a gateway running on the embedded database', { timeout: 180_000 }, () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  const viewerStatus = async (url: string, key: string) =>
    (await sendGraphQL(url, { key, query: '{ viewer { role } }', headers: { accept: null } })).status;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-cli-beside-'));
    env = childEnv({ DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a key the gateway accepts at once, and revokes it by its prefix, while the gateway runs', async () => {
    const gateway = await startGateway(env);
    try {
      const created = await runCli(['keys', 'create', '--org', 'demo', '--role', 'viewer', '--json'], env);
      expect(created.code, created.stderr).toBe(0);
      const key = JSON.parse(created.stdout);
      expect(await viewerStatus(gateway.url, key.key)).toBe(200);

      const revoked = await runCli(['keys', 'revoke', key.prefix, '--json'], env);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(JSON.parse(revoked.stdout)).toMatchObject({ id: key.id, prefix: key.prefix });
      expect(await viewerStatus(gateway.url, key.key)).toBe(401);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
    // A clean stop takes its socket along.
    expect(existsSync(embeddedSocketPath(dataDir))).toBe(false);
  });

  it('opens the database itself after the gateway was killed with -9, whatever it left behind', async () => {
    const gateway = await startGateway(env);
    const exited = new Promise((resolve) => gateway.child.once('exit', resolve));
    gateway.child.kill('SIGKILL');
    await exited;
    expect(existsSync(embeddedSocketPath(dataDir))).toBe(true);
    expect(existsSync(path.join(dataDir, 'pglite.lock'))).toBe(true);

    const listed = await runCli(['orgs', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).map((o: { slug: string }) => o.slug)).toEqual(['demo']);
    // And a gateway starts again on the same folder.
    const again = await startGateway(env);
    expect(await again.stop()).toBe(0);
  });
});
