import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';

async function probe(gateway: TestGateway, path: `/${'health' | 'ready'}${string}`): Promise<number> {
  const response = await gateway.fetch(path);
  await response.arrayBuffer();
  return response.status;
}

/** Runs one statement as the PostgreSQL superuser of TEST_DATABASE_URL, outside any test database. */
async function asAdmin(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe('liveness and readiness', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await createTestGateway();
  });
  afterAll(() => gateway.close());

  it('answers 200 on /health and /ready without a key while the database answers', async () => {
    expect(await probe(gateway, '/health')).toBe(200);
    expect(await probe(gateway, '/ready')).toBe(200);
    gateway.statements.reset();
    expect(await probe(gateway, '/ready')).toBe(200);
    expect(gateway.statements.count).toBe(1);
    gateway.statements.reset();
    expect(await probe(gateway, '/health')).toBe(200);
    expect(gateway.statements.count).toBe(0);
  });

  it('answers the same with a query string, as when a browser is sent back to /health?integration=…', async () => {
    for (const query of ['?integration=SW50ZWdyYXRpb246MQ&outcome=connected', '?', '?cache=1&x=%2Fhealth']) {
      expect(await probe(gateway, `/health${query}`), `/health${query}`).toBe(200);
      expect(await probe(gateway, `/ready${query}`), `/ready${query}`).toBe(200);
    }
    gateway.statements.reset();
    expect(await probe(gateway, '/health?x=1')).toBe(200);
    expect(gateway.statements.count).toBe(0);
    expect(await probe(gateway, '/ready?x=1')).toBe(200);
    expect(gateway.statements.count).toBe(1);
  });

  it('does not answer on other paths that merely end like them', async () => {
    expect(await probe(gateway, '/ready/x')).toBe(404);
    expect(await probe(gateway, '/readyz')).toBe(404);
  });

  it('stays ready across many checks', async () => {
    const statuses = await Promise.all(Array.from({ length: 20 }, () => probe(gateway, '/ready')));
    expect(statuses).toEqual(Array(20).fill(200));
  });
});

describe(`when the ${testDatabaseKind} database handle is closed`, () => {
  let gateway: TestGateway;
  let key: string;
  beforeAll(async () => {
    gateway = await createTestGateway({ world: true });
    key = gateway.world.acme.keys.VIEWER;
    expect(await probe(gateway, '/ready')).toBe(200);
    await gateway.database.close();
  });
  afterAll(() => gateway.close());

  it('is not ready (503) but still alive (200)', async () => {
    expect(await probe(gateway, '/ready')).toBe(503);
    expect(await probe(gateway, '/health')).toBe(200);
    expect(await probe(gateway, '/ready')).toBe(503);
    expect(await probe(gateway, '/ready?probe=1')).toBe(503);
    expect(await probe(gateway, '/health?probe=1')).toBe(200);
  });

  it('answers GraphQL with a masked server error, not a 401 that would blame the key', async () => {
    const res = await gateway.graphql(key, '{ viewer { role } }');
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(res.body)).not.toMatch(/closed|destroy|kysely|pglite|pool/i);
  });
});

describe.runIf(testDatabaseKind === 'postgres')('when the PostgreSQL database goes away', () => {
  let database: TestDatabase;
  let gateway: TestGateway;
  let name: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    name = new URL(database.url as string).pathname.slice(1);
    // Given rather than created by the gateway, which leaves it to this suite to drop (with force, after cutting it).
    gateway = await createTestGateway({ database });
  });
  afterAll(async () => {
    await gateway.close();
    await database.close();
    await asAdmin(`drop database if exists ${name} with (force)`);
  });

  it('recovers by itself when its connections are cut but the database remains', async () => {
    expect(await probe(gateway, '/ready')).toBe(200);
    const cut = await asAdmin('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
      name,
    ]);
    expect(cut.rowCount).toBeGreaterThan(0);
    await new Promise((done) => setTimeout(done, 100));
    expect(await probe(gateway, '/ready')).toBe(200);
  });

  it('reports 503 on /ready and 200 on /health once the database is dropped', async () => {
    expect(await probe(gateway, '/ready')).toBe(200);
    await asAdmin(`drop database ${name} with (force)`);
    const exists = await asAdmin('select 1 from pg_database where datname = $1', [name]);
    expect(exists.rowCount).toBe(0);
    expect(await probe(gateway, '/ready')).toBe(503);
    expect(await probe(gateway, '/health')).toBe(200);
    expect(await probe(gateway, '/ready')).toBe(503);
  });

  it('keeps the reason out of GraphQL responses', async () => {
    const { status, text } = await sendGraphQL(gateway, {
      key: `igw_000000000000_${'A'.repeat(43)}`,
      query: '{ viewer { role } }',
      headers: { accept: null },
    });
    expect(status).toBeGreaterThanOrEqual(500);
    expect(text).not.toContain(name);
    expect(text).not.toMatch(/does not exist|ECONN|database/i);
  });
});
