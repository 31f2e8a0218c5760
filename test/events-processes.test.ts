import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKind } from './support/database.js';
import { openEventStream } from './support/event-stream.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { childEnv, type RunningGateway, runCli, startGateway } from './support/process.js';
import { sendGraphQL } from './support/request.js';

const KEY_EVENTS = `subscription {
  integrationEvents(filter: {types: [API_KEY_CREATED, API_KEY_REVOKED]}) { id type actor { kind label } data }
}`;

// Gateway processes on one PostgreSQL: the embedded database is one process's (its subscribers hear
// that process's publications; another process's reach them by the feed's poll).
describe.runIf(testDatabaseKind === 'postgres')('events across gateway processes', () => {
  let here: TestGateway;
  let there: RunningGateway;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // This one has no engine and polls once a minute: what reaches its subscriber came by NOTIFY.
    here = await createTestGateway({ world: true, listen: true, events: { pollIntervalMs: 60_000 } });
    env = childEnv({ DATABASE_URL: here.database.url ?? undefined, WORKER_POLL_INTERVAL_MS: '60000' });
    there = await startGateway(env);
  });
  afterAll(async () => {
    await there?.stop();
    await here?.close();
  });

  it('a subscriber on one process receives what another process caused and published', async () => {
    const { acme } = here.world;
    const stream = await openEventStream(`${here.url}/graphql`, acme.keys.ADMIN, KEY_EVENTS);
    expect(stream.status).toBe(200);
    const created = await sendGraphQL(there.url, {
      key: acme.keys.ADMIN,
      query: 'mutation { createApiKey(input: {role: VIEWER, name: "from the other process"}) { apiKey { prefix } } }',
    });
    const prefix = created.body.data.createApiKey.apiKey.prefix;
    const result = await stream.nextResult(15_000);
    expect(result.data.integrationEvents).toMatchObject({
      type: 'API_KEY_CREATED',
      actor: { kind: 'API_KEY', label: acme.keys.ADMIN.slice(0, 16) },
      data: { name: 'from the other process', role: 'VIEWER', prefix },
    });
    // The command line records its keys too, as the operator's; the other process publishes them.
    const cli = await runCli(['keys', 'create', '--org', 'acme', '--role', 'editor', '--name', 'from the cli', '--json'], env);
    expect(cli.code).toBe(0);
    const fromCli = await stream.nextResult(15_000);
    expect(fromCli.data.integrationEvents).toMatchObject({
      type: 'API_KEY_CREATED',
      actor: { kind: 'OPERATOR', label: 'cli' },
      data: { name: 'from the cli', role: 'EDITOR' },
    });
    const revoked = await runCli(['keys', 'revoke', JSON.parse(cli.stdout).prefix], env);
    expect(revoked.code).toBe(0);
    expect((await stream.nextResult(15_000)).data.integrationEvents).toMatchObject({
      type: 'API_KEY_REVOKED',
      actor: { kind: 'OPERATOR' },
      data: { name: 'from the cli' },
    });
    stream.close();
  });
});
