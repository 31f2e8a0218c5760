import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countApiKeys, createOrgWithKeys, type OrgFixture } from './support/fixtures.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { sendGraphQL } from './support/request.js';
import { childEnv, type RunningGateway, startGateway } from './support/process.js';

const CREATE =
  'mutation Create($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id name } key userErrors { code } } }';

async function post(gateway: RunningGateway, apiKey: string, idempotencyKey: string, variables: Record<string, unknown>) {
  const answer = await sendGraphQL(gateway.url, {
    key: apiKey,
    query: CREATE,
    variables,
    headers: { accept: null, 'idempotency-key': idempotencyKey },
  });
  return { status: answer.status, replayed: answer.headers.get('idempotent-replayed'), text: answer.text };
}

// Several gateways share state only through PostgreSQL; the embedded PGlite is a single-process engine
// (its data folder is locked to one process), so there is nothing to share on that project.
describe.skipIf(testDatabaseKind !== 'postgres')(
  'Idempotency-Key across two gateway processes on one PostgreSQL (postgres project only: PGlite is single-process)',
  () => {
    let database: TestDatabase;
    let dataDir: string;
    let acme: OrgFixture;
    let gateways: RunningGateway[] = [];

    beforeAll(async () => {
      database = await createTestDatabase();
      acme = await createOrgWithKeys(database.db, 'acme');
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-idem-procs-'));
      const env = childEnv({ DATABASE_URL: database.url ?? undefined, DATA_DIR: dataDir });
      gateways = await Promise.all([startGateway(env), startGateway(env)]);
    });
    afterAll(async () => {
      const codes = await Promise.all(gateways.map((gateway) => gateway.stop()));
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
      expect(codes).toEqual(gateways.map(() => 0));
    });

    it('runs a key sent to both processes at once exactly once, and both replay its answer', async () => {
      const [a, b] = gateways as [RunningGateway, RunningGateway];
      expect(a.url).not.toBe(b.url);
      const key = randomUUID();
      const variables = { input: { role: 'VIEWER', name: 'from two gateways' } };
      const before = await countApiKeys(database.db, acme.organization.id);

      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 === 0 ? a : b, acme.keys.ADMIN, key, variables)));
      expect(await countApiKeys(database.db, acme.organization.id)).toBe(before + 1);
      const ran = answers.filter((answer) => answer.status === 200 && answer.replayed === null);
      expect(ran).toHaveLength(1);
      const original = ran[0]?.text;
      for (const answer of answers) {
        if (answer.status === 409) expect(JSON.parse(answer.text).errors[0].extensions.code).toBe('IDEMPOTENCY_KEY_IN_USE');
        else expect(answer.text).toBe(original);
      }

      for (const gateway of gateways) {
        const replay = await post(gateway, acme.keys.ADMIN, key, variables);
        expect(replay).toEqual({ status: 200, replayed: 'true', text: original });
      }
      const refused = await post(b, acme.keys.ADMIN, key, { input: { role: 'VIEWER', name: 'something else' } });
      expect(refused.status).toBe(422);
      expect(await countApiKeys(database.db, acme.organization.id)).toBe(before + 1);
    });
  },
);
