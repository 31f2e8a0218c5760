import type { Server } from 'node:http';
import type { Kysely } from 'kysely';
import type { DatabaseHandle } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import type { OidcOptions } from '../../src/http/admission/oidc/oidc-options.js';
import type { HardeningOptions } from '../../src/http/hardening.js';
import type { IdempotencyOptions } from '../../src/http/idempotency/idempotency.plugin.js';
import type { RateLimitStore } from '../../src/http/limits/rate-limit-store.js';
import { createHttpServer, DEFAULT_HTTP_SERVER_OPTIONS, type HttpServerOptions } from '../../src/http/node-server.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createHttpClient } from '../../src/outbound/index.js';
import { createGateway, type EventStreamOptions, type GatewayOptions } from '../../src/server.js';
import type { GatewayServices } from '../../src/services.js';
import { type FakeProvider, startFakeProvider } from '../fake-provider/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { type IntegrationFlows, integrationFlows } from './integration-flows.js';
import { openTestRateLimiter, type TestRateLimit } from './rate-limit.js';
import { type GraphQLAnswer, type HeaderOverrides, sendGraphQL } from './request.js';
import { testServices } from './services.js';
import { statementCounter, type StatementCounter } from './statements.js';
import { createWorld, type World } from './world.js';

export type { GraphQLAnswer } from './request.js';

export interface TestGatewayOptions {
  /** A database another gateway uses (the two stand for two processes); this gateway does not drop it. */
  database?: DatabaseHandle;
  /** Where the gateway logs (else the given services' logger); by default its lines are kept in `logs`, at `logLevel`. */
  logger?: Logger;
  /** Level of the lines kept in `logs`: `silent` unless the fake provider is asked for, then `trace`. */
  logLevel?: string;
  /** Services over the defaults of `testServices` (and of the fake provider). */
  services?: Partial<GatewayServices>;
  hardening?: HardeningOptions;
  /** Rate limiting with these budgets (defaults: generous) in the gateway's database, or in Redis. */
  rateLimit?: TestRateLimit;
  graphiql?: GatewayOptions['graphiql'];
  idempotency?: IdempotencyOptions;
  /** Live event streams (subscriptions): fan-out, cap per key, polling, keep-alive. */
  events?: EventStreamOptions;
  /** Points every connector at a fresh fake provider, through the production outbound client. */
  provider?: boolean;
  /** Creates the two organizations `acme` and `globex` (world.ts). */
  world?: boolean;
  /** Also serves the gateway on a loopback port, behind the node:http server `npm start` runs. */
  listen?: boolean | Partial<HttpServerOptions>;
  /**
   * With `listen`: the gateway's public URL (its OAuth2 redirect URI, its connect links) is the port it
   * listens on, so that a real browser follows them back to it.
   */
  publicUrlIsListening?: boolean;
  /** Headers every `graphql` call sends beside (or instead of, with null) the request helper's defaults. */
  graphqlHeaders?: HeaderOverrides;
  /** Sign-in by an identity provider (test/support/identity-provider.ts `gatewayOptions`). */
  oidc?: OidcOptions;
  /** Origins whose pages may call the gateway (CORS). */
  corsAllowedOrigins?: string[];
  /** Verified API keys kept in memory (defaults: the gateway's). */
  apiKeyCache?: GatewayOptions['apiKeyCache'];
}

/**
 * The gateway as suites see it: a web-standard `fetch` (a path such as `/graphql` is on
 * `http://gateway.test`), the database behind it, and the fixtures asked for.
 */
export interface TestGateway extends IntegrationFlows {
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** `http://127.0.0.1:<port>` when `listen` was asked for. */
  readonly url: string;
  readonly port: number;
  /** The node:http server behind `url`. */
  readonly server: Server;
  database: TestDatabase;
  db: Kysely<Database>;
  /** Statements run on a database this gateway created, since the counter was last reset. */
  statements: StatementCounter;
  services: GatewayServices;
  rateLimitStore: RateLimitStore | null;
  /** The fake provider every connector talks to, when `provider` was asked for. */
  readonly fake: FakeProvider;
  /** The two organizations, when `world` was asked for. */
  readonly world: World;
  /** Log lines the gateway wrote (pino JSON), unless a `logger` (or services with one) was given. */
  logs: string[];
  /** Every body the gateway answered to `graphql` and `callback`, to search for secrets. */
  responses: string[];
  /** POSTs one GraphQL request with the key as Bearer token (null: none), through the request helper. */
  graphql<T = any>(key: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer<T>>;
  close(): Promise<void>;
}

const asked = <T>(value: T | null, option: string): T => {
  if (value === null) throw new Error(`createTestGateway({ ${option}: true }) was not asked for`);
  return value;
};

/** The one way suites build a gateway: on a fresh, migrated database of the project's kind unless given one. */
export async function createTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const { statements, onQuery } = statementCounter();
  const database: TestDatabase = options.database
    ? { url: null, drop: () => Promise.resolve(), ...options.database }
    : await createTestDatabase({ onQuery });
  const logs: string[] = [];
  const logger =
    options.logger ??
    options.services?.logger ??
    createLogger({
      level: options.logLevel ?? (options.provider ? 'trace' : 'silent'),
      destination: { write: (line: string) => void logs.push(line) },
    });
  const fake = options.provider ? await startFakeProvider() : null;
  // The production outbound client (retries of idempotent calls included), with loopback allowed and short backoff.
  const http = fake
    ? createHttpClient({
        allowlist: [],
        allowPrivate: true,
        requireHttps: false,
        defaultTimeoutMs: 10_000,
        maxRetries: 2,
        perProviderConcurrency: 8,
        retryBaseDelayMs: 10,
      })
    : null;
  const services = testServices(logger, { ...(fake && http ? { http, connectorSettings: fake.settings } : {}), ...options.services });
  const rateLimiter = options.rateLimit ? await openTestRateLimiter(database.db, options.rateLimit) : null;
  const hardening = rateLimiter ? { ...options.hardening, rateLimiter: rateLimiter.limiter } : options.hardening;
  const app = createGateway({
    database,
    logger,
    services,
    ...(hardening ? { hardening } : {}),
    ...(options.graphiql !== undefined ? { graphiql: options.graphiql } : {}),
    ...(options.idempotency ? { idempotency: options.idempotency } : {}),
    ...(options.oidc ? { oidc: options.oidc } : {}),
    ...(options.corsAllowedOrigins ? { corsAllowedOrigins: options.corsAllowedOrigins } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(options.apiKeyCache ? { apiKeyCache: options.apiKeyCache } : {}),
  });
  await app.ready();
  const world = options.world ? await createWorld(database.db) : null;
  const server = options.listen
    ? createHttpServer(app, { ...DEFAULT_HTTP_SERVER_OPTIONS, ...(options.listen === true ? {} : options.listen) })
    : null;
  if (server) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server ? (server.address() as { port: number }).port : null;
  if (options.publicUrlIsListening && port !== null) services.publicUrl = `http://127.0.0.1:${port}`;

  const gateway: TestGateway = {
    fetch: async (input, init) => {
      if (input instanceof Request) return app.fetch(init ? new Request(input, init) : input);
      return app.fetch(typeof input === 'string' && input.startsWith('/') ? `http://gateway.test${input}` : String(input), init ?? {});
    },
    get url() {
      return `http://127.0.0.1:${asked(port, 'listen')}`;
    },
    get port() {
      return asked(port, 'listen');
    },
    get server() {
      return asked(server, 'listen');
    },
    database,
    db: database.db,
    statements,
    services,
    rateLimitStore: rateLimiter?.store ?? null,
    get fake() {
      return asked(fake, 'provider');
    },
    get world() {
      return asked(world, 'world');
    },
    logs,
    responses: [],
    async graphql(key, query, variables) {
      const answer = await sendGraphQL(gateway, { key, query, variables, headers: options.graphqlHeaders ?? {} });
      gateway.responses.push(answer.text);
      return answer;
    },
    ...integrationFlows(() => gateway),
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await app.dispose();
      if (!options.database) await database.drop();
      await fake?.close();
      await http?.close();
    },
  };
  return gateway;
}
