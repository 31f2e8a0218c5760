import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../src/db/connection.js';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { type EndpointSecrets, openEndpointSecrets, sealEndpointSecrets } from '../src/modules/webhook/webhook-secrets.js';
import { KeyRing, rotateSecrets, SecretVault, SecretVaultError } from '../src/secrets/index.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { insertIntegration } from './support/fixtures.js';
import { childEnv, runCli } from './support/process.js';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const oldVault = new SecretVault(new KeyRing(oldKey));
/** What a gateway runs during a rotation: the new key seals, the old one still opens. */
const rotatingVault = new SecretVault(new KeyRing(newKey, [oldKey]));
/** After the old key has been removed from the configuration. */
const newOnlyVault = new SecretVault(new KeyRing(newKey));

const bundle = (n: number) => ({ credential: { kind: 'API_TOKEN', token: `tok_secret_${n}` }, webhookSecret: null });

async function createOrganization(db: Kysely<Database>, slug: string): Promise<string> {
  return (await db.insertInto('organizations').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow()).id;
}

/** An integration whose secret (version 1) is sealed by `vault`, as the connector services store it. */
async function insertSealed(db: Kysely<Database>, organizationId: string, vault: SecretVault, n: number): Promise<string> {
  const { id } = await insertIntegration(db, organizationId, { displayName: `Integration ${n}` });
  const sealed = vault.seal(bundle(n), { organizationId, integrationId: id, version: 1 });
  await db
    .updateTable('integrations')
    .set({ secret_ciphertext: sealed.ciphertext, secret_key_id: sealed.keyId, secret_version: 1 })
    .where('id', '=', id)
    .execute();
  return id;
}

/**
 * A webhook endpoint whose signing secrets (version 1) are sealed by `vault` as the webhook services seal
 * them: an organization's (with a URL), or an integration's (holding only the secret it replaced).
 */
async function insertEndpoint(
  db: Kysely<Database>,
  organizationId: string,
  vault: SecretVault,
  secrets: EndpointSecrets,
  integrationId: string | null = null,
): Promise<string> {
  const { id } = await db
    .insertInto('webhook_endpoints')
    .values({ organization_id: organizationId, integration_id: integrationId, url: integrationId ? null : 'https://hooks.example.com/in' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const sealed = sealEndpointSecrets({ vault }, { organization_id: organizationId, id, secret_version: 0 }, secrets);
  await db.updateTable('webhook_endpoints').set(sealed).where('id', '=', id).execute();
  return id;
}

const endpointRow = (db: Kysely<Database>, id: string) =>
  db
    .selectFrom('webhook_endpoints')
    .select(['id', 'organization_id', 'secret_ciphertext', 'secret_key_id', 'secret_version', 'updated_at'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

const signing = (n: number): EndpointSecrets => ({ current: `whsec_current_${n}`, previous: `whsec_previous_${n}` });

async function row(db: Kysely<Database>, id: string) {
  return db
    .selectFrom('integrations')
    .select(['organization_id', 'secret_ciphertext', 'secret_key_id', 'secret_version', 'row_version'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

function openRow(vault: SecretVault, id: string, r: Awaited<ReturnType<typeof row>>, version = r.secret_version) {
  return vault.open(r.secret_ciphertext as string, r.secret_key_id as string, {
    organizationId: r.organization_id,
    integrationId: id,
    version,
  });
}

describe('secret rotation', () => {
  let database: TestDatabase;
  let db: Kysely<Database>;
  let organizationId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = database.db;
    organizationId = await createOrganization(db, 'acme');
  });
  afterAll(() => database.drop());

  it('re-encrypts old rows with the current key, bumping secret and row versions; old rows open until then', async () => {
    const old = [await insertSealed(db, organizationId, oldVault, 1), await insertSealed(db, organizationId, oldVault, 2)];
    const current = await insertSealed(db, organizationId, rotatingVault, 3);
    const { id: noSecret } = await insertIntegration(db, organizationId);
    const before = await row(db, old[0] as string);
    expect(openRow(rotatingVault, old[0] as string, before)).toEqual(bundle(1));
    expect(() => openRow(newOnlyVault, old[0] as string, before)).toThrow(SecretVaultError);

    const report = await rotateSecrets(db, rotatingVault, { batchSize: 1 });
    expect(report).toEqual({ keyId: newOnlyVault.currentKeyId, rotated: 2, failed: [] });

    for (const [i, id] of old.entries()) {
      const after = await row(db, id);
      expect(after.secret_key_id).toBe(newOnlyVault.currentKeyId);
      expect(after.secret_version).toBe(2);
      expect(after.row_version).toBe(before.row_version + 1);
      expect(openRow(newOnlyVault, id, after)).toEqual(bundle(i + 1));
      // Bound to the new version: neither the old version's binding nor the old ciphertext at the new version opens.
      expect(() => openRow(newOnlyVault, id, after, 1)).toThrow(SecretVaultError);
    }
    expect(() => openRow(rotatingVault, old[0] as string, { ...before, secret_version: 2 })).toThrow(SecretVaultError);
    expect((await row(db, current)).secret_version).toBe(1);
    expect((await row(db, noSecret)).secret_ciphertext).toBeNull();

    expect((await rotateSecrets(db, rotatingVault)).rotated).toBe(0);
  });

  it('leaves a secret it cannot open as it was, reports it, and rotates the rest', async () => {
    const lost = await insertSealed(db, organizationId, new SecretVault(new KeyRing(randomBytes(32))), 4);
    const fine = await insertSealed(db, organizationId, oldVault, 5);
    const lostBefore = await row(db, lost);
    const report = await rotateSecrets(db, rotatingVault);
    expect(report.rotated).toBe(1);
    expect(report.failed).toEqual([{ type: 'Integration', id: lost }]);
    expect(await row(db, lost)).toEqual(lostBefore);
    expect(openRow(newOnlyVault, fine, await row(db, fine))).toEqual(bundle(5));
    await db.updateTable('integrations').set({ secret_ciphertext: null, secret_key_id: null }).where('id', '=', lost).execute();
  });

  it("re-encrypts webhook endpoints' signing secrets in the same run, counted with the rest; a no-op the second time", async () => {
    const integration = await insertSealed(db, organizationId, oldVault, 30);
    const organizationEndpoint = await insertEndpoint(db, organizationId, oldVault, signing(1));
    const integrationEndpoint = await insertEndpoint(
      db,
      organizationId,
      oldVault,
      { current: null, previous: 'whsec_replaced' },
      integration,
    );
    const current = await insertEndpoint(db, organizationId, rotatingVault, signing(3));
    const noSecret = (
      await db
        .insertInto('webhook_endpoints')
        .values({ organization_id: organizationId, url: 'https://hooks.example.com/none' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    const before = await endpointRow(db, organizationEndpoint);
    expect(() => openEndpointSecrets({ vault: newOnlyVault }, before)).toThrow(SecretVaultError);

    const report = await rotateSecrets(db, rotatingVault, { batchSize: 1 });
    expect(report).toEqual({ keyId: newOnlyVault.currentKeyId, rotated: 3, failed: [] });

    const after = await endpointRow(db, organizationEndpoint);
    expect(after).toMatchObject({ secret_key_id: newOnlyVault.currentKeyId, secret_version: 2, updated_at: before.updated_at });
    expect(openEndpointSecrets({ vault: newOnlyVault }, after)).toEqual(signing(1));
    // Bound to the new version: the old ciphertext does not open there, nor the new one at the old version.
    expect(() => openEndpointSecrets({ vault: rotatingVault }, { ...before, secret_version: 2 })).toThrow(SecretVaultError);
    expect(() => openEndpointSecrets({ vault: newOnlyVault }, { ...after, secret_version: 1 })).toThrow(SecretVaultError);
    expect(openEndpointSecrets({ vault: newOnlyVault }, await endpointRow(db, integrationEndpoint))).toEqual({
      current: null,
      previous: 'whsec_replaced',
    });
    expect(openRow(newOnlyVault, integration, await row(db, integration))).toEqual(bundle(30));
    expect((await endpointRow(db, current)).secret_version).toBe(1);
    expect((await endpointRow(db, noSecret)).secret_ciphertext).toBeNull();

    expect(await rotateSecrets(db, rotatingVault)).toEqual({ keyId: newOnlyVault.currentKeyId, rotated: 0, failed: [] });
    expect((await endpointRow(db, organizationEndpoint)).secret_version).toBe(2);
  });

  it('leaves an endpoint secret it cannot open as it was and names it as a webhook endpoint', async () => {
    const lost = await insertEndpoint(db, organizationId, new SecretVault(new KeyRing(randomBytes(32))), signing(4));
    const fine = await insertEndpoint(db, organizationId, oldVault, signing(5));
    const lostBefore = await endpointRow(db, lost);
    const report = await rotateSecrets(db, rotatingVault);
    expect(report).toMatchObject({ rotated: 1, failed: [{ type: 'WebhookEndpoint', id: lost }] });
    expect(await endpointRow(db, lost)).toEqual(lostBefore);
    expect(openEndpointSecrets({ vault: newOnlyVault }, await endpointRow(db, fine))).toEqual(signing(5));
    await db.deleteFrom('webhook_endpoints').where('id', '=', lost).execute();
  });

  it('waits for an endpoint the webhook service holds, and skips it when that re-sealed it under the new key', async () => {
    const id = await insertEndpoint(db, organizationId, oldVault, signing(6));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    // A gateway rotating the endpoint's secret: locks the row as the service does, seals version 2 under the new key.
    const gateway = db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('id', '=', id)
        .forNoKeyUpdate()
        .executeTakeFirstOrThrow();
      locked();
      await held;
      await trx
        .updateTable('webhook_endpoints')
        .set(sealEndpointSecrets({ vault: rotatingVault }, current, signing(60)))
        .where('id', '=', id)
        .execute();
    });
    await isLocked;
    const rotation = rotateSecrets(db, rotatingVault);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await gateway;
    expect((await rotation).rotated).toBe(0);
    const after = await endpointRow(db, id);
    expect(after.secret_version).toBe(2);
    expect(openEndpointSecrets({ vault: newOnlyVault }, after)).toEqual(signing(60));
  });

  it('waits for a row a gateway holds, and skips it when the gateway re-sealed it under the new key', async () => {
    const id = await insertSealed(db, organizationId, oldVault, 6);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    // A gateway refreshing this integration: locks the row, writes a new secret (version 2, new key), commits.
    const gateway = db.transaction().execute(async (trx) => {
      await trx.selectFrom('integrations').select('id').where('id', '=', id).forUpdate().execute();
      locked();
      await held;
      const sealed = rotatingVault.seal(bundle(60), { organizationId, integrationId: id, version: 2 });
      await trx
        .updateTable('integrations')
        .set({ secret_ciphertext: sealed.ciphertext, secret_key_id: sealed.keyId, secret_version: 2 })
        .where('id', '=', id)
        .execute();
    });
    await isLocked;
    const rotation = rotateSecrets(db, rotatingVault);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await gateway;
    expect((await rotation).rotated).toBe(0);
    const after = await row(db, id);
    expect(after.secret_version).toBe(2);
    expect(openRow(newOnlyVault, id, after)).toEqual(bundle(60));
  });

  it('two rotations at once re-encrypt each row exactly once', async () => {
    const ids = [];
    for (let n = 10; n < 20; n += 1) ids.push(await insertSealed(db, organizationId, oldVault, n));
    const [a, b] = await Promise.all([
      rotateSecrets(db, rotatingVault, { batchSize: 3 }),
      rotateSecrets(db, rotatingVault, { batchSize: 3 }),
    ]);
    expect(a.rotated + b.rotated).toBe(10);
    for (const id of ids) expect((await row(db, id)).secret_version).toBe(2);
  });
});

// Each CLI run is a fresh tsx process opening the database: seconds apiece on a busy machine.
describe('CLI: secrets rotate', { timeout: 120_000 }, () => {
  let dataDir: string;
  let database: TestDatabase | null = null;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-rotate-'));
    if (testDatabaseKind === 'postgres') database = await createTestDatabase();
    env = childEnv({
      DATA_DIR: dataDir,
      DATABASE_URL: database?.url ?? undefined,
      ENCRYPTION_KEY: newKey.toString('base64'),
      ENCRYPTION_KEYS_PREVIOUS: oldKey.toString('base64'),
    });
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * The database the CLI works on: this file's PostgreSQL database, or the embedded one in dataDir (closed after use: one
   * process at a time).
   */
  async function withDb<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const handle: DatabaseHandle = database ?? (await openDatabase({ kind: 'pglite', dataDir }));
    try {
      await migrateToLatest(handle.db);
      return await run(handle.db);
    } finally {
      if (!database) await handle.close();
    }
  }

  it('re-encrypts every old secret, webhook endpoints included, reports the count, and is a no-op the second time', async () => {
    const { ids, endpoint } = await withDb(async (db) => {
      const org = await createOrganization(db, 'cli-org');
      return {
        ids: [
          await insertSealed(db, org, oldVault, 1),
          await insertSealed(db, org, oldVault, 2),
          await insertSealed(db, org, rotatingVault, 3),
        ],
        endpoint: await insertEndpoint(db, org, oldVault, signing(7)),
      };
    });
    const first = await runCli(['secrets', 'rotate', '--json'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ keyId: newOnlyVault.currentKeyId, rotated: 3, failed: [] });
    const output = first.stdout + first.stderr;
    for (const secret of [newKey.toString('base64'), oldKey.toString('base64'), 'tok_secret_', 'whsec_'])
      expect(output).not.toContain(secret);

    await withDb(async (db) => {
      for (const [i, id] of ids.entries()) expect(openRow(newOnlyVault, id, await row(db, id))).toEqual(bundle(i + 1));
      expect(openEndpointSecrets({ vault: newOnlyVault }, await endpointRow(db, endpoint))).toEqual(signing(7));
    });
    const second = await runCli(['secrets', 'rotate'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`Re-encrypted 0 secrets with key ${newOnlyVault.currentKeyId}.`);
  });

  it('exits 1 and names the integrations and webhook endpoints whose secret no configured key opens', async () => {
    const lost = await withDb(async (db) => {
      const org = await createOrganization(db, 'cli-lost');
      const unknown = new SecretVault(new KeyRing(randomBytes(32)));
      return { integration: await insertSealed(db, org, unknown, 9), endpoint: await insertEndpoint(db, org, unknown, signing(9)) };
    });
    const result = await runCli(['secrets', 'rotate', '--json'], env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).failed).toEqual([
      encodeGlobalID('Integration', lost.integration),
      encodeGlobalID('WebhookEndpoint', lost.endpoint),
    ]);
    // stderr: the warning log line for the row, then the error.
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toContain('secret could not be re-encrypted');
    const { error } = JSON.parse(lines.at(-1) as string);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect(error.message).toContain('ENCRYPTION_KEYS_PREVIOUS');
    expect(result.stderr).not.toContain('tok_secret_');
    expect(result.stderr).not.toContain('whsec_');
    const text = await runCli(['secrets', 'rotate'], env);
    expect(text.stdout).toContain(`Could not open the secret of integration ${encodeGlobalID('Integration', lost.integration)}.`);
    expect(text.stdout).toContain(`Could not open the secret of webhook endpoint ${encodeGlobalID('WebhookEndpoint', lost.endpoint)}.`);
  });

  it('refuses a malformed ENCRYPTION_KEY without printing it', async () => {
    const bad = 'c2hvcnQta2V5';
    const result = await runCli(['secrets', 'rotate'], { ...env, ENCRYPTION_KEY: bad });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ENCRYPTION_KEY');
    expect(result.stderr).not.toContain(bad);
  });
});
