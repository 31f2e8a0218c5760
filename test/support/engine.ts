import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { type Config, loadConfig } from '../../src/config.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/connection.js';
import type { Database, IntegrationRow } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { decodeTypedID } from '../../src/graphql/global-id.js';
import { type Engine, startEngine } from '../../src/jobs/engine.js';
import { createHttpClient } from '../../src/outbound/index.js';
import type { GatewayServices } from '../../src/services.js';
import type { FakeProvider } from '../fake-provider/server.js';
import { createTestDatabase, testDatabaseKind } from './database.js';
import { childEnv, projectRoot } from './process.js';
import type { OrgFixture } from './fixtures.js';
import { createTestGateway } from './gateway.js';
import { CONNECT, configFor, RETURN_URL } from './integration-flows.js';
import { type GraphQLAnswer, sendGraphQL } from './request.js';

/**
 * A gateway whose connectors point at the fake provider, on a database the background engine can
 * reach as it does in production: a PostgreSQL database of its own, or an embedded database in a
 * folder, served on its socket. Engines started here are stopped by `close()`.
 */
export interface EngineWorld {
  db: Kysely<Database>;
  database: DatabaseHandle;
  /** Where the engine connects: the PostgreSQL URL, or the folder whose socket serves the embedded database. */
  env: Record<string, string>;
  fake: FakeProvider;
  services: GatewayServices;
  org: OrgFixture;
  /** The neighbouring organization, whose integrations `org` must never reach. */
  other: OrgFixture;
  /** `http://127.0.0.1:<port>` of the gateway, when created with `{ listen: true }`. */
  url: string;
  /** Every log line (pino JSON). */
  logs: string[];
  /** The gateway's configuration for this database, with the environment given on top of `defaults`. */
  config(env?: Record<string, string>): Config;
  /** Starts a runner of workers, as one gateway process does. */
  startEngine(env?: Record<string, string>): Promise<Engine>;
  /** Stops every engine `startEngine` started. */
  stopEngines(): Promise<void>;
  graphql(key: string, query: string, variables?: Record<string, unknown>): Promise<any>;
  /** A GraphQL request with extra headers (an Idempotency-Key), answered whole: status, headers, text. */
  send(key: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<GraphQLAnswer>;
  /** Connects an API-token integration with `token` as EDITOR; its global ID. */
  connectToken(provider: string, token: string): Promise<string>;
  /** Connects an OAuth2 integration through the fake's consent screen; its global ID. */
  connectOAuth(provider: string): Promise<string>;
  row(globalId: string): Promise<IntegrationRow>;
  close(): Promise<void>;
}

/** Polls `probe` until it returns something other than undefined, null or false. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string,
  /** What the timeout's message says of the state it ended in, for a failure that is rare and otherwise unexplained. */
  explain?: () => Promise<unknown>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) {
      const state = explain ? `; at the end: ${JSON.stringify(await explain().catch((error: unknown) => String(error)))}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function engineDatabase(): Promise<{ database: DatabaseHandle; env: Record<string, string>; drop(): Promise<void> }> {
  if (testDatabaseKind === 'postgres') {
    const database = await createTestDatabase();
    return { database, env: { DATABASE_URL: database.url as string }, drop: () => database.drop() };
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'igw-engine-'));
  const database = await openDatabase({ kind: 'pglite', dataDir });
  await migrateToLatest(database.db);
  await database.serve?.(() => {});
  return {
    database,
    env: { DATA_DIR: dataDir },
    async drop() {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function createEngineWorld(
  defaults: Record<string, string>,
  overrides: Partial<GatewayServices> = {},
  options: { listen?: boolean } = {},
): Promise<EngineWorld> {
  const { database, env, drop } = await engineDatabase();
  // No retries: the tests count every call the engine makes to the provider.
  const http = createHttpClient({
    allowlist: [],
    allowPrivate: true,
    requireHttps: false,
    defaultTimeoutMs: 10_000,
    maxRetries: 0,
    perProviderConcurrency: 8,
    retryBaseDelayMs: 10,
  });
  const gateway = await createTestGateway({
    database,
    provider: true,
    world: true,
    logLevel: 'debug',
    services: { http, ...overrides },
    listen: options.listen ?? false,
  });
  const { fake, services, logs } = gateway;
  const org = gateway.world.acme;
  const engines: Engine[] = [];
  const config = (extra: Record<string, string> = {}) =>
    loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env, ...defaults, ...extra });
  const graphql = async (key: string, query: string, variables?: Record<string, unknown>) =>
    (await sendGraphQL(gateway, { key, query, variables, headers: { accept: null, 'x-request-id': randomUUID() } })).body;
  return {
    db: database.db,
    database,
    env,
    fake,
    services,
    org,
    other: gateway.world.globex,
    get url() {
      return gateway.url;
    },
    logs,
    config,
    async startEngine(extra) {
      const engine = await startEngine({
        config: config(extra),
        db: database.db,
        services,
        logger: services.logger,
        notifications: database.notifications,
      });
      engines.push(engine);
      return engine;
    },
    async stopEngines() {
      await Promise.all(engines.splice(0).map((engine) => engine.stop(1_000)));
    },
    graphql,
    send: (key, query, variables, headers) =>
      sendGraphQL(gateway, { key, query, variables, headers: { accept: null, 'x-request-id': randomUUID(), ...headers } }),
    async connectToken(provider, token) {
      const input = { provider, authKind: 'API_TOKEN', displayName: provider, config: configFor(provider, fake), credentials: { token } };
      const body = await graphql(org.keys.EDITOR, CONNECT, { input });
      const id = body.data?.connectIntegration?.integration?.id;
      if (!id) throw new Error(`connect failed: ${JSON.stringify(body)}`);
      return id as string;
    },
    async connectOAuth(provider) {
      const input = {
        provider,
        authKind: 'OAUTH2',
        displayName: provider,
        config: configFor(provider, fake),
        oauth2: { returnUrl: RETURN_URL },
      };
      const started = (await graphql(org.keys.EDITOR, CONNECT, { input })).data?.connectIntegration;
      if (!started?.authorizationUrl) throw new Error('no authorization URL');
      const atProvider = await fetch(started.authorizationUrl, { redirect: 'manual' });
      await atProvider.body?.cancel();
      const callback = atProvider.headers.get('location');
      if (!callback) throw new Error(`the fake's consent answered ${atProvider.status}`);
      const response = await gateway.fetch(callback, { method: 'GET', redirect: 'manual' });
      await response.body?.cancel();
      if (!response.headers.get('location')?.includes('outcome=connected')) throw new Error('authorization failed');
      return started.integration.id as string;
    },
    row(globalId) {
      return database.db
        .selectFrom('integrations')
        .selectAll()
        .where('id', '=', decodeTypedID(globalId, 'Integration'))
        .executeTakeFirstOrThrow();
    },
    async close() {
      // Long enough for running jobs to finish and be settled by the queue, rather than cut off: a cut-off
      // job is settled later, through connections the database's drop below would reset under it.
      await Promise.all(engines.splice(0).map((engine) => engine.stop(10_000)));
      await gateway.close();
      await drop();
      await http.close();
    },
  };
}

/** A worker process (`npm run worker`) of the test's database. */
export interface WorkerProcess {
  output(): string;
  /** Sends `signal` and resolves with the exit code (null when killed by the signal). */
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null>;
}

/** Starts `src/worker.ts` as `npm run worker` does, and waits until its workers look for jobs. */
export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import=tsx', 'src/worker.ts'], {
    cwd: projectRoot,
    env: childEnv({ LOG_LEVEL: 'debug', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the worker exited: ${output}`);
      return output.includes('worker started');
    },
    30_000,
    'the worker process',
  );
  return {
    output: () => output,
    stop(signal) {
      child.kill(signal);
      return exited;
    },
  };
}
