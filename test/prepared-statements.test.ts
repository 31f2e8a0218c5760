import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { PLAN_WITH_VALUES, usePreparedStatements } from '../src/db/prepared-statements.js';
import { countIntegrations, listIntegrationPage } from '../src/modules/integration/integration-list.repository.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { insertIntegrations } from './support/fixtures.js';
import { createOrgWithKeys } from './support/fixtures.js';

/**
 * Statements run as named prepared statements, but a search's: PostgreSQL plans those with their values
 * every time (a generic plan, chosen after five executions, reads every match of a common term through
 * the trigram index). What a connection has prepared is in its own `pg_prepared_statements`.
 */
describe.skipIf(testDatabaseKind !== 'postgres')('prepared statements (postgres project only: the pg pool prepares them)', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let db: Kysely<Database>;
  let organizationId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection, so that every statement and the look at what it prepared share a session.
    pool = new pg.Pool({ connectionString: database.url as string, max: 1 });
    usePreparedStatements(pool);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    organizationId = (await createOrgWithKeys(database.db, 'acme')).organization.id;
    // Created a second apart: rows created in the same millisecond would be ordered by their random ids.
    await insertIntegrations(database.db, organizationId, 12, (i) => ({
      displayName: i % 3 === 0 ? `billing ${i}` : `kiwi ${i}`,
      createdAt: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000),
    }));
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  const prepared = async (): Promise<string[]> => {
    const { rows } = await pool.query<{ statement: string }>('select statement from pg_prepared_statements');
    return rows.map((row) => row.statement);
  };

  it('prepares a statement with parameters once, and never one that ends with PLAN_WITH_VALUES', async () => {
    // As Kysely calls it: a client's query, without a callback (pool.query passes one, and runs unnamed).
    const client = await pool.connect();
    try {
      for (let i = 0; i < 6; i += 1) {
        expect((await client.query('select $1::int + 1 as n', [i])).rows).toEqual([{ n: i + 1 }]);
        expect((await client.query(`select $1::int + 2 as n ${PLAN_WITH_VALUES}`, [i])).rows).toEqual([{ n: i + 2 }]);
      }
    } finally {
      client.release();
    }
    const statements = await prepared();
    expect(statements).toContain('select $1::int + 1 as n');
    expect(statements.filter((text) => text.includes('+ 2'))).toEqual([]);
  });

  it("prepares a page's statement, not a search's candidates nor its count", async () => {
    const page = { direction: 'forward' as const, cursor: null, limit: 5 };
    for (let i = 0; i < 6; i += 1) {
      const plain = await listIntegrationPage(db, organizationId, { filter: {}, orderBy: 'CREATED_AT', direction: 'ASC', page });
      expect(plain).toHaveLength(6);
      const searched = await listIntegrationPage(db, organizationId, {
        filter: { search: 'billing' },
        orderBy: 'CREATED_AT',
        direction: 'ASC',
        page,
      });
      expect(searched.map((row) => row.item.displayName)).toEqual(['billing 0', 'billing 3', 'billing 6', 'billing 9']);
      expect(await countIntegrations(db, organizationId, { search: 'kiwi' })).toBe(8);
      expect(await countIntegrations(db, organizationId, {})).toBe(12);
    }
    const statements = await prepared();
    const candidates = statements.filter((text) => text.includes('array_agg'));
    expect(candidates, statements.join('\n')).toEqual([]);
    expect(statements.some((text) => text.includes('count(*)') && !text.includes('ilike'))).toBe(true);
    expect(statements.some((text) => text.includes('count(*)') && text.includes('ilike'))).toBe(false);
    // The page read by its candidates' ids (their search applied again, by its pattern) is prepared.
    expect(statements.some((text) => text.includes('any('))).toBe(true);
  });
});
