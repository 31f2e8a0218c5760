import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { createOrgWithKeys } from './support/fixtures.js';
import { sendGraphQL } from './support/request.js';
import { childEnv, type RunningGateway, startGateway } from './support/process.js';

/**
 * Two gateway processes that keep verified keys and count budgets in memory (the defaults), on one
 * PostgreSQL: what one process learns reaches the other within a second. Keys are trusted for a minute
 * here, so that only the notification of a change can explain a refusal within a second.
 */
const ONE_POINT = '{ viewer { role } }';
const KEY_POINTS = 400;
/** The last tenth of the key's budget is charged in the database request by request (RATE_LIMIT_EXACT_POINTS=0). */
const RESERVE = KEY_POINTS / 10;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function post(gateway: RunningGateway, key: string, query = ONE_POINT) {
  const { status, body } = await sendGraphQL(gateway.url, { key, query, headers: { accept: null } });
  return { status, code: body.errors?.[0]?.extensions?.code as string | undefined };
}

describe.skipIf(testDatabaseKind !== 'postgres')('two gateway processes (postgres project only: PGlite is single-process)', () => {
  let database: TestDatabase;
  let dataDir: string;
  let gateways: [RunningGateway, RunningGateway];

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-admission-procs-'));
    const env = childEnv({
      DATABASE_URL: database.url ?? undefined,
      DATA_DIR: dataDir,
      WORKERS: '0',
      API_KEY_CACHE_TTL_MS: '60000',
      RATE_LIMIT_API_KEY_POINTS: String(KEY_POINTS),
      RATE_LIMIT_EXACT_POINTS: '0',
    });
    gateways = (await Promise.all([startGateway(env), startGateway(env)])) as [RunningGateway, RunningGateway];
  });
  const keyId = async (organizationId: string, role: 'VIEWER' | 'EDITOR') =>
    (
      await database.db
        .selectFrom('api_keys')
        .select('id')
        .where('organization_id', '=', organizationId)
        .where('role', '=', role)
        .executeTakeFirstOrThrow()
    ).id;

  afterAll(async () => {
    const codes = await Promise.all((gateways ?? []).map((gateway) => gateway.stop()));
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
    expect(codes).toEqual((gateways ?? []).map(() => 0));
  });

  it('a key revoked through one process is refused by the other within a second', async () => {
    const org = await createOrgWithKeys(database.db, 'revoked-procs');
    const [a, b] = gateways;
    const doomed = await createOrgWithKeys(database.db, 'revoked-procs-doomed');
    // Both processes verify the key and keep it.
    for (const gateway of [a, b]) for (let i = 0; i < 3; i += 1) expect((await post(gateway, doomed.keys.EDITOR)).status).toBe(200);
    const id = await keyId(doomed.organization.id, 'EDITOR');
    const revoke = await sendGraphQL(a.url, {
      key: doomed.keys.ADMIN,
      query: 'mutation($id: ID!) { revokeApiKey(input: { id: $id }) { userErrors { code } } }',
      variables: { id: encodeGlobalID('ApiKey', id) },
      headers: { accept: null },
    });
    const revokedAt = Date.now();
    expect(revoke.body.data.revokeApiKey.userErrors).toEqual([]);
    // The process that revoked it refuses it from the next request.
    expect(await post(a, doomed.keys.EDITOR)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    let refusedAfter: number | null = null;
    while (Date.now() - revokedAt < 5_000) {
      if ((await post(b, doomed.keys.EDITOR)).status === 401) {
        refusedAfter = Date.now() - revokedAt;
        break;
      }
      await sleep(20);
    }
    expect(refusedAfter).not.toBeNull();
    expect(refusedAfter as number).toBeLessThan(1_000);
    // And it stays refused; other keys are unaffected.
    for (const gateway of [a, b]) {
      expect((await post(gateway, doomed.keys.EDITOR)).status).toBe(401);
      expect((await post(gateway, org.keys.VIEWER)).status).toBe(200);
    }
  });

  it(
    'a budget counted in both processes is overspent by at most what they admit in its last second beyond the reserve, ' +
      'and refused by both within a second of being spent',
    async () => {
      const org = await createOrgWithKeys(database.db, 'budget-procs');
      const answers: { at: number; process: number; status: number }[] = [];
      let firstRefusal = null as number | null;
      const deadline = Date.now() + 20_000;
      // Four clients per process, sending until each process has refused for over a second.
      const client = async (process: number) => {
        const gateway = gateways[process] as RunningGateway;
        while (Date.now() < deadline) {
          const at = Date.now();
          const { status } = await post(gateway, org.keys.VIEWER);
          answers.push({ at, process, status });
          if (status !== 200) firstRefusal ??= Date.now();
          if (firstRefusal !== null && at > firstRefusal + 1_500) return;
        }
      };
      await Promise.all([0, 1, 0, 1, 0, 1, 0, 1].map(client));
      expect(firstRefusal).not.toBeNull();
      const spentAt = firstRefusal as number;
      expect(answers.every((answer) => answer.status === 200 || answer.status === 429)).toBe(true);
      const admitted = answers.filter((answer) => answer.status === 200);
      // Nothing refused before the budget was spent: the processes only ever count too little, never too much.
      expect(admitted.length).toBeGreaterThanOrEqual(KEY_POINTS);
      // The overshoot: at most what was admitted in the second before the budget was spent, beyond the reserve.
      const lastSecond = admitted.filter((answer) => answer.at > spentAt - 1_000).length;
      expect(admitted.length - KEY_POINTS).toBeLessThanOrEqual(Math.max(0, lastSecond - RESERVE));
      // Within a second of the first refusal, both processes refuse every request.
      const late = answers.filter((answer) => answer.at > spentAt + 1_000);
      for (const process of [0, 1]) expect(late.filter((answer) => answer.process === process).length).toBeGreaterThan(0);
      expect(late.filter((answer) => answer.status === 200)).toEqual([]);
      // The database holds every admitted point, flushed in batches.
      await sleep(600);
      const bucket = await database.db
        .selectFrom('rate_limit_buckets')
        .select('points')
        .where('key', '=', `apikey:${await keyId(org.organization.id, 'VIEWER')}`)
        .executeTakeFirstOrThrow();
      expect(bucket.points).toBe(admitted.length);
    },
  );
});
