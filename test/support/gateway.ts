import type { Kysely, LogEvent } from 'kysely';
import pino from 'pino';
import type { Database } from '../../src/db/database.js';
import { createGateway, type Gateway } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { testServices } from './services.js';

export interface GraphQLResponse<T = any> {
  status: number;
  headers: Headers;
  body: { data?: T; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[]; extensions?: Record<string, any> };
}

export interface TestGateway {
  yoga: Gateway;
  database: TestDatabase;
  db: Kysely<Database>;
  /** Statements run since the counter was last reset. */
  statements: { count: number; sql: string[]; reset(): void };
  /** POSTs a GraphQL request through yoga.fetch, over the same HTTP handling as a real port. */
  graphql<T = any>(key: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

/** Counts the statements a database handle runs: pass `onQuery` to `createTestDatabase`. */
export function statementCounter(): { statements: TestGateway['statements']; onQuery: (event: LogEvent) => void } {
  const statements = {
    count: 0,
    sql: [] as string[],
    reset() {
      this.count = 0;
      this.sql = [];
    },
  };
  const onQuery = (event: LogEvent) => {
    statements.count += 1;
    statements.sql.push(event.query.sql);
  };
  return { statements, onQuery };
}

/** A gateway on a fresh, migrated database of the project's kind, logging nowhere. */
export async function createTestGateway(): Promise<TestGateway> {
  const { statements, onQuery } = statementCounter();
  const database = await createTestDatabase({ onQuery });
  const logger = pino({ level: 'silent' });
  const yoga = createGateway({ database, logger, services: testServices(logger) });
  return {
    yoga,
    database,
    db: database.db,
    statements,
    async graphql(key, query, variables) {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
      if (key !== null) headers.authorization = `Bearer ${key}`;
      const response = await yoga.fetch('http://gateway.test/graphql', {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    },
    async close() {
      await yoga.dispose();
      await database.drop();
    },
  };
}

export interface RawGraphQLResponse<T = any> extends GraphQLResponse<T> {
  /** The body exactly as sent, to compare byte for byte. */
  text: string;
}

/**
 * POSTs a GraphQL request with extra headers (e.g. `Idempotency-Key`) through yoga.fetch and keeps the
 * body's exact text; `body` is sent as given (query, variables, operationName).
 */
export async function postGraphQL<T = any>(
  yoga: Gateway,
  key: string | null,
  body: { query: string; variables?: Record<string, unknown>; operationName?: string },
  extraHeaders: Record<string, string> = {},
): Promise<RawGraphQLResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...extraHeaders };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await yoga.fetch('http://gateway.test/graphql', { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) };
}
