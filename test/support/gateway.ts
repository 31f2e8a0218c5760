import type { Kysely, LogEvent } from 'kysely';
import pino from 'pino';
import type { Database } from '../../src/db/database.js';
import { createGateway, type Gateway } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { type GraphQLAnswer, sendGraphQL } from './request.js';
import { testServices } from './services.js';

export type GraphQLResponse<T = any> = GraphQLAnswer<T>;

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
    graphql: (key, query, variables) => sendGraphQL(yoga, { key, query, variables }),
    async close() {
      await yoga.dispose();
      await database.drop();
    },
  };
}
