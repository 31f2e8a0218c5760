import { Writable } from 'node:stream';
import pino from 'pino';
import type { HardeningOptions } from '../../src/http/hardening.js';
import { postgresRateLimitStore, type RateLimitStore } from '../../src/http/limits/rate-limit-store.js';
import { type RateLimitBudgets, RateLimiter } from '../../src/http/limits/rate-limiter.js';
import { openRedisRateLimitStore } from '../../src/http/limits/redis-rate-limit-store.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createGateway } from '../../src/server.js';
import type { GatewayServices } from '../../src/services.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { statementCounter, type TestGateway } from './gateway.js';
import { sendGraphQL } from './request.js';
import { testServices } from './services.js';

/** The Redis server tests use for the Redis budget store (started by the machine or CI). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Log lines captured in memory, as the gateway writes them (JSON, after redaction). */
export interface CapturedLogs {
  logger: Logger;
  text(): string;
  lines(): Record<string, any>[];
  clear(): void;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  let chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level, destination });
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line)),
    clear: () => {
      chunks = [];
    },
  };
}

export interface HardenedTestGatewayOptions {
  hardening?: HardeningOptions;
  /** Rate limiting with these budgets (defaults: generous) in the test database, or in Redis. */
  rateLimit?: Partial<RateLimitBudgets> & { store?: 'postgres' | 'redis'; redisPrefix?: string };
  logger?: Logger;
  services?: Partial<GatewayServices>;
  /** An existing database: gateways sharing one stand for several gateway processes. */
  database?: TestDatabase;
}

/** An answer whose body is whatever JSON came back (errors, extensions and all). */
export interface LooseGraphQLResponse {
  status: number;
  headers: Headers;
  body: any;
}

export interface HardenedTestGateway extends Omit<TestGateway, 'graphql'> {
  rateLimitStore: RateLimitStore | null;
  /** A raw request through yoga.fetch. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  graphql(key: string | null, query: string, variables?: Record<string, unknown>): Promise<LooseGraphQLResponse>;
  /** A GraphQL POST with extra headers. */
  graphqlWith(headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<LooseGraphQLResponse>;
}

/** A gateway with hardening options (limits, rate limits, metrics, tracing) on a migrated test database. */
export async function createHardenedTestGateway(options: HardenedTestGatewayOptions = {}): Promise<HardenedTestGateway> {
  const { statements, onQuery } = statementCounter();
  const ownsDatabase = !options.database;
  const database = options.database ?? (await createTestDatabase({ onQuery }));
  const logger = options.logger ?? pino({ level: 'silent' });
  let rateLimitStore: RateLimitStore | null = null;
  if (options.rateLimit) {
    const { store = 'postgres', redisPrefix, ...budgets } = options.rateLimit;
    rateLimitStore = store === 'redis' ? await openRedisRateLimitStore(TEST_REDIS_URL, redisPrefix) : postgresRateLimitStore(database.db);
    const rateLimiter = new RateLimiter(rateLimitStore, {
      windowSeconds: 60,
      apiKeyPoints: 1_000_000,
      organizationPoints: 1_000_000,
      integrationTests: 1_000,
      integrationTestWindowSeconds: 60,
      ...budgets,
    });
    options = { ...options, hardening: { ...options.hardening, rateLimiter } };
  }
  const yoga = createGateway({
    database,
    logger,
    services: testServices(logger, options.services),
    ...(options.hardening ? { hardening: options.hardening } : {}),
  });
  const fetchRaw = async (path: string, init: RequestInit = {}): Promise<Response> => yoga.fetch(`http://gateway.test${path}`, init);
  const graphqlWith = (
    headers: Record<string, string>,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<LooseGraphQLResponse> => sendGraphQL(yoga, { key: null, query, variables, headers });
  return {
    yoga,
    database,
    db: database.db,
    statements,
    rateLimitStore,
    fetch: fetchRaw,
    graphqlWith,
    graphql: (key, query, variables) => graphqlWith(key === null ? {} : { authorization: `Bearer ${key}` }, query, variables),
    async close() {
      await yoga.dispose();
      if (ownsDatabase) await database.drop();
    },
  };
}
