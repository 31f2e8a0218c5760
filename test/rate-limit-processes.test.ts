import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { createOrgWithKeys } from './support/fixtures.js';
import { TEST_REDIS_URL } from './support/rate-limit.js';
import { sendGraphQL } from './support/request.js';
import { childEnv, type RunningGateway, startGateway } from './support/process.js';

const ONE_POINT = '{ viewer { role } }';
const KEY_POINTS = 10;
const ORGANIZATION_POINTS = 25;

async function post(gateway: RunningGateway, apiKey: string) {
  const { status, headers, body } = await sendGraphQL(gateway.url, { key: apiKey, query: ONE_POINT, headers: { accept: null } });
  return {
    status,
    scope: body.errors?.[0]?.extensions?.scope as string | undefined,
    limit: headers.get('x-ratelimit-limit'),
    remaining: headers.get('x-ratelimit-remaining'),
    retryAfter: headers.get('retry-after'),
  };
}

// Several gateways share budgets only through PostgreSQL or Redis; the embedded PGlite is a single-process
// engine (its data folder is locked to one process), so there is nothing to share on that project.
describe.skipIf(testDatabaseKind !== 'postgres').each(['postgres', 'redis'] as const)(
  'budgets in %s across two gateway processes (postgres project only: PGlite is single-process)',
  (store) => {
    let database: TestDatabase;
    let dataDir: string;
    let gateways: [RunningGateway, RunningGateway];

    beforeAll(async () => {
      database = await createTestDatabase();
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-rate-procs-'));
      const env = childEnv({
        DATABASE_URL: database.url ?? undefined,
        DATA_DIR: dataDir,
        REDIS_URL: store === 'redis' ? TEST_REDIS_URL : undefined,
        RATE_LIMIT_API_KEY_POINTS: String(KEY_POINTS),
        RATE_LIMIT_ORGANIZATION_POINTS: String(ORGANIZATION_POINTS),
      });
      gateways = (await Promise.all([startGateway(env), startGateway(env)])) as [RunningGateway, RunningGateway];
    });
    afterAll(async () => {
      const codes = await Promise.all((gateways ?? []).map((gateway) => gateway.stop()));
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
      expect(codes).toEqual((gateways ?? []).map(() => 0));
    });

    it("a key that keeps sending after its budget is spent spends none of its organization's", async () => {
      const org = await createOrgWithKeys(database.db, `rate-procs-${store}`);
      const [a, b] = gateways;
      // Forty requests at once, half to each process: exactly the key's ten points are admitted.
      const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => post(i % 2 === 0 ? a : b, org.keys.VIEWER)));
      expect(burst.filter((answer) => answer.status === 200)).toHaveLength(KEY_POINTS);
      const refused = burst.filter((answer) => answer.status !== 200);
      expect(refused).toHaveLength(30);
      for (const answer of refused) {
        expect(answer).toMatchObject({ status: 429, scope: 'API_KEY', limit: String(KEY_POINTS), remaining: '0' });
        expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
        expect(Number(answer.retryAfter)).toBeLessThanOrEqual(60);
      }
      // And it keeps trying, on both processes.
      for (let i = 0; i < 20; i += 1) expect((await post(i % 2 === 0 ? a : b, org.keys.VIEWER)).status).toBe(429);

      // The organization spent only the ten points its VIEWER was admitted: fifteen are left for its other keys.
      for (let i = 0; i < ORGANIZATION_POINTS - KEY_POINTS; i += 1) {
        const key = i < KEY_POINTS ? org.keys.EDITOR : org.keys.ADMIN;
        const answer = await post(i % 2 === 0 ? b : a, key);
        expect(answer.status, `request ${i}`).toBe(200);
      }
      const spent = await post(a, org.keys.ADMIN);
      expect(spent).toMatchObject({ status: 429, scope: 'ORGANIZATION', limit: String(ORGANIZATION_POINTS), remaining: '0' });
    });
  },
);
