import type { LogEvent } from 'kysely';

/** Statements a database handle ran since the counter was last reset. */
export interface StatementCounter {
  count: number;
  sql: string[];
  reset(): void;
}

/** Counts the statements a database handle runs: pass `onQuery` to `createTestDatabase`. */
export function statementCounter(): { statements: StatementCounter; onQuery: (event: LogEvent) => void } {
  const statements: StatementCounter = {
    count: 0,
    sql: [],
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
