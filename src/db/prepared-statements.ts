import type pg from 'pg';

/** Distinct statement texts a process prepares; any beyond run unnamed, so server memory stays bounded. */
export const MAX_PREPARED_STATEMENTS = 1_000;

type Query = (...args: unknown[]) => unknown;

/**
 * Ends the text of a statement that PostgreSQL must plan with its values every time: it runs unnamed,
 * never prepared. A prepared statement is planned generically after its fifth execution, blind to its
 * values; for a search that is the wrong plan for every term but one kind (a common term's candidates
 * read through the trigram index took 27.6 ms where the plan for that term, a scan stopping at 2,001
 * matches, took 9.4: BENCHMARKS.md, "Measured at a million rows"). Append it with Kysely's
 * `modifyEnd(sql.raw(PLAN_WITH_VALUES))`.
 */
export const PLAN_WITH_VALUES = '/* planned with its values */';

/**
 * Runs every parameterized statement of the pool as a named prepared statement, so that PostgreSQL
 * parses and plans each statement text once per connection instead of on every request (measured in
 * BENCHMARKS.md: half the database CPU of an integrations page). Kysely compiles one text per query
 * shape with the values as parameters, so the set of texts is small and fixed. Statements without
 * parameters (migrations, BEGIN, COMMIT) stay unnamed, and so do those ending with PLAN_WITH_VALUES.
 *
 * A migration that changes a table's columns while this process runs makes PostgreSQL refuse a
 * prepared statement that selects them ("cached plan must not change result type", 0A000): the text
 * is then prepared afresh under a new name.
 */
export function usePreparedStatements(pool: pg.Pool): void {
  const names = new Map<string, string>();
  let next = 0;
  const nameFor = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED_STATEMENTS) {
      name = `igw_${next++}`;
      names.set(text, name);
    }
    return name;
  };
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as Query;
    const prepared: Query = (text, values, callback) => {
      if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || callback !== undefined)
        return query(text, values, callback);
      if (text.endsWith(PLAN_WITH_VALUES)) return query(text, values);
      const name = nameFor(text);
      if (name === undefined) return query(text, values);
      return (query({ name, text, values }) as Promise<pg.QueryResult>).catch((error: unknown) => {
        if ((error as { code?: unknown } | null)?.code !== '0A000') throw error;
        if (names.get(text) === name) names.delete(text);
        return query({ name: nameFor(text), text, values });
      });
    };
    (client as unknown as { query: Query }).query = prepared;
  });
}
