import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../src/http/idempotency/idempotency-key.js';
import { claimKey, completeKey, purgeExpiredKeys } from '../src/http/idempotency/idempotency.repository.js';
import { countApiKeys, findApiKeyRow, type OrgFixture } from './support/fixtures.js';
import { testDatabaseKind } from './support/database.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { childEnv, runCli } from './support/process.js';
import { sendGraphQL } from './support/request.js';

const CREATE =
  'mutation Create($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id name } key userErrors { code } } }';
const VARIABLES = { input: { role: 'VIEWER', name: 'retried' } };

describe('Idempotency-Key leases and retention', () => {
  let gateway: TestGateway;
  let acme: OrgFixture;
  let adminKeyId: string;

  beforeAll(async () => {
    gateway = await createTestGateway({ world: true });
    acme = gateway.world.acme;
    adminKeyId = (await findApiKeyRow(gateway.db, acme.keys.ADMIN)).id;
  });
  afterAll(() => gateway.close());

  const send = (key: string, variables: Record<string, unknown> = VARIABLES) =>
    sendGraphQL(gateway, { key: acme.keys.ADMIN, query: CREATE, variables, headers: { 'idempotency-key': key } });
  /** The row a process that crashed mid-request leaves behind: in progress, its lease ending `leaseEnds` seconds from now. */
  const abandonedClaim = (key: string, leaseEnds: number) =>
    gateway.db
      .insertInto('idempotency_keys')
      .values({
        organization_id: acme.organization.id,
        key,
        api_key_id: adminKeyId,
        fingerprint: fingerprintOf({ query: CREATE, variables: VARIABLES }),
        state: 'IN_PROGRESS',
        lease_token: randomUUID(),
        lease_expires_at: sql<Date>`now() + ${leaseEnds}::int * interval '1 second'`,
        expires_at: sql<Date>`now() + interval '24 hours'`,
      })
      .execute();
  const row = (key: string) => gateway.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).executeTakeFirst();

  it('answers 409 with Retry-After while a claim is leased, and 422 to a different request meanwhile', async () => {
    const key = randomUUID();
    await abandonedClaim(key, 60);
    const busy = await send(key);
    expect(busy.status).toBe(409);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(busy.body.errors).toEqual([
      { message: expect.stringContaining('still running'), extensions: { code: 'IDEMPOTENCY_KEY_IN_USE' } },
    ]);
    expect((await send(key, { input: { role: 'VIEWER', name: 'other' } })).status).toBe(422);
    expect((await row(key))?.state).toBe('IN_PROGRESS');
  });

  it('lets the next retry run once the lease of a crashed attempt has expired', async () => {
    const key = randomUUID();
    await abandonedClaim(key, -1);
    const before = await countApiKeys(gateway.db, acme.organization.id);
    const retried = await send(key);
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.body.data.createApiKey.apiKey.name).toBe('retried');
    expect(await countApiKeys(gateway.db, acme.organization.id)).toBe(before + 1);
    expect(await row(key)).toMatchObject({ state: 'COMPLETED', response_status: 200, lease_token: null });
    expect((await send(key)).text).toBe(retried.text);
  });

  it('stores no 5xx answer: the key stays bound to the request, and its retry runs the mutation again at once', async () => {
    // The database refusing the insert as a server shutting down would (SQLSTATE 57P01) is answered 503.
    await sql`create function igw_test_refuse() returns trigger language plpgsql as $$
      begin raise exception 'shutting down' using errcode = '57P01'; end $$`.execute(gateway.db);
    await sql`create trigger igw_test_refuse before insert on api_keys for each row execute function igw_test_refuse()`.execute(
      gateway.db,
    );
    const key = randomUUID();
    try {
      const failed = await send(key);
      expect(failed.status).toBe(503);
      expect(failed.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      // No answer stored and no lease held; the claim time stays, so that the retry resumes this attempt.
      expect(await row(key)).toMatchObject({ state: 'IN_PROGRESS', lease_token: null, response_body: null });
      expect((await row(key))?.lease_expires_at?.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    } finally {
      await sql`drop trigger igw_test_refuse on api_keys`.execute(gateway.db);
      await sql`drop function igw_test_refuse()`.execute(gateway.db);
    }
    expect((await send(key, { input: { role: 'VIEWER', name: 'another request' } })).status).toBe(422);
    const retried = await send(key);
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await row(key)).toMatchObject({ state: 'COMPLETED', response_status: 200 });
  });

  it('keeps the slow first attempt from overwriting the answer of the attempt that took over', async () => {
    const request = {
      organizationId: acme.organization.id,
      key: randomUUID(),
      apiKeyId: adminKeyId,
      fingerprint: 'f',
      leaseSeconds: 60,
      ttlHours: 24,
    };
    const first = await claimKey(gateway.db, request);
    expect(first).toMatchObject({ kind: 'claimed', takenOver: false });
    await gateway.db
      .updateTable('idempotency_keys')
      .set({ lease_expires_at: sql<Date>`now() - interval '1 second'` })
      .where('key', '=', request.key)
      .execute();
    const second = await claimKey(gateway.db, request);
    expect(second).toMatchObject({ kind: 'claimed', takenOver: true });
    if (first.kind !== 'claimed' || second.kind !== 'claimed') throw new Error('unreachable');
    // The takeover continues the crashed attempt: its claim time stays, so that it resumes that attempt.
    expect(second.claimedAt).toEqual(first.claimedAt);
    const response = { status: 200, headers: {}, sealedBody: 'sealed' };
    expect(await completeKey(gateway.db, { ...request, token: first.token }, response, 24)).toBe(false);
    expect(await completeKey(gateway.db, { ...request, token: second.token }, response, 24)).toBe(true);
  });

  it('keeps keys for 24 hours, then purges them; an expired key is a new key', async () => {
    const kept = randomUUID();
    const expired = randomUUID();
    await send(kept);
    await send(expired, { input: { role: 'VIEWER', name: 'old' } });
    const stored = await row(kept);
    const window = (stored?.expires_at.getTime() ?? 0) - (stored?.completed_at?.getTime() ?? 0);
    expect(window).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);

    await gateway.db
      .updateTable('idempotency_keys')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('key', '=', expired)
      .execute();
    // Past its window but not purged yet: the key no longer binds, even to a different request.
    const reused = await send(expired, { input: { role: 'VIEWER', name: 'new' } });
    expect(reused.headers.get('idempotent-replayed')).toBeNull();
    expect(reused.body.data.createApiKey.apiKey.name).toBe('new');

    await gateway.db
      .updateTable('idempotency_keys')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('key', '=', expired)
      .execute();
    expect(await purgeExpiredKeys(gateway.db)).toBe(1);
    expect(await row(expired)).toBeUndefined();
    expect(await row(kept)).toBeDefined();
  });

  it('purges periodically from a running gateway', async () => {
    const key = randomUUID();
    await abandonedClaim(key, -1);
    await gateway.db
      .updateTable('idempotency_keys')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('key', '=', key)
      .execute();
    const second = await createTestGateway({ database: gateway.database, idempotency: { purgeIntervalMs: 50 } });
    try {
      await expect.poll(() => row(key), { timeout: 5_000, interval: 50 }).toBeUndefined();
    } finally {
      await second.close();
    }
  });

  // On PostgreSQL the CLI shares this file's database. On PGlite it could only open an empty database of
  // its own (the embedded one is single-process), a slow start that proves nothing purgeExpiredKeys does not.
  it.skipIf(testDatabaseKind !== 'postgres')('purges from the CLI: `idempotency purge` (postgres project only)', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-idem-'));
    try {
      const env = childEnv({ DATA_DIR: dataDir, DATABASE_URL: gateway.database.url ?? undefined });
      const key = randomUUID();
      await send(key);
      await gateway.db
        .updateTable('idempotency_keys')
        .set({ expires_at: sql<Date>`now() - interval '1 second'` })
        .where('key', '=', key)
        .execute();
      const result = await runCli(['idempotency', 'purge', '--json'], env);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ purged: 1 });
      expect(await row(key)).toBeUndefined();
      expect((await runCli(['idempotency', 'purge'], env)).stdout).toBe('Purged 0 expired idempotency keys.\n');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
