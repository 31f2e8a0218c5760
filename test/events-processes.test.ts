import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisSignal, REDIS_EVENTS_CHANNEL } from '../src/modules/events/publication-signal.js';
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

/** The Redis the suite's processes fan out through. */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// REDIS_URL: the publishing process announces positions on Redis, and a process that hears nothing from
// the database (no LISTEN of its own, a poll once a minute) serves its subscribers from that alone.
describe.runIf(testDatabaseKind === 'postgres')('events across gateway processes through Redis (REDIS_URL)', () => {
  let here: TestGateway;
  let there: RunningGateway;
  let heard: Redis;
  const announced: string[] = [];

  beforeAll(async () => {
    here = await createTestGateway({
      world: true,
      listen: true,
      events: { pollIntervalMs: 60_000, signal: await openRedisSignal(REDIS_URL) },
    });
    there = await startGateway(childEnv({ DATABASE_URL: here.database.url ?? undefined, REDIS_URL, WORKER_POLL_INTERVAL_MS: '60000' }));
    heard = new Redis(REDIS_URL);
    heard.on('message', (_channel: string, message: string) => announced.push(message));
    await heard.subscribe(REDIS_EVENTS_CHANNEL);
  });
  afterAll(async () => {
    await heard?.quit();
    await there?.stop();
    await here?.close();
  });

  const createKey = async (name: string) => {
    const created = await sendGraphQL(there.url, {
      key: here.world.acme.keys.ADMIN,
      query: `mutation { createApiKey(input: {role: VIEWER, name: "${name}"}) { apiKey { prefix } } }`,
    });
    return created.body.data.createApiKey.apiKey.prefix as string;
  };

  it('a subscriber on one process receives, exactly once, what another process caused and published', async () => {
    const { acme } = here.world;
    const stream = await openEventStream(`${here.url}/graphql`, acme.keys.ADMIN, KEY_EVENTS);
    expect(stream.status).toBe(200);
    const first = await createKey('first through redis');
    const second = await createKey('second through redis');
    const results = [await stream.nextResult(15_000), await stream.nextResult(15_000)];
    expect(results.map((result) => result.data.integrationEvents)).toMatchObject([
      { type: 'API_KEY_CREATED', data: { name: 'first through redis', prefix: first } },
      { type: 'API_KEY_CREATED', data: { name: 'second through redis', prefix: second } },
    ]);
    // Announced on Redis by the other process, and nothing more reaches the subscriber: each event once.
    const positions = await here.db.selectFrom('events').select('position').where('type', '=', 'api_key.created').execute();
    const last = Math.max(...positions.map((row) => Number(row.position)));
    expect(Math.max(...announced.map(Number))).toBeGreaterThanOrEqual(last);
    expect(await stream.quiet(1_500)).toBe(true);
    stream.close();
  });

  it('a process whose REDIS_URL cannot be reached refuses to start, and says why', async () => {
    // A port nothing listens on: taken from the system, then closed.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const refused = await startGateway(
      childEnv({ DATABASE_URL: here.database.url ?? undefined, REDIS_URL: `redis://:secret-password@127.0.0.1:${port}`, WORKERS: '0' }),
    ).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/gateway exited with 1 before listening/);
    expect(refused).toContain('integrations-gateway failed to start: Redis (REDIS_URL) cannot be reached');
    expect(refused).toContain('unset REDIS_URL to use PostgreSQL LISTEN/NOTIFY');
    expect(refused).not.toContain('secret-password');
  });
});
