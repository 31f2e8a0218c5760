import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoString } from '../src/db/timestamps.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

describe('timestamps read from the database', () => {
  it('are the instants stored, whatever the session time zone, to the millisecond', async () => {
    const stored = [
      '2026-01-31T12:00:00.000Z',
      '2026-07-01T23:59:59.999Z',
      '1999-12-31T23:59:59.5Z',
      '2026-03-29T01:30:00.123456Z',
      '9999-12-31T23:59:59.999Z',
    ];
    // Before 1920, Kathmandu's offset is local mean time, +05:41:16: printed with seconds, which pg's
    // general parser reads. (The embedded PGlite's own parser reads such an offset as an invalid date.)
    if (testDatabaseKind === 'postgres') stored.push('1000-01-01T00:00:00Z');
    for (const zone of ['UTC', 'Asia/Kathmandu', 'America/St_Johns', 'Pacific/Kiritimati', 'America/Los_Angeles']) {
      const rows = await database.db.transaction().execute(async (trx) => {
        await sql`select set_config('TimeZone', ${zone}, true)`.execute(trx);
        const { rows } = await sql<{ at: Date; ms: number }>`
          select value::timestamptz as at, floor(extract(epoch from value::timestamptz) * 1000)::float8 as ms
          from unnest(${stored}::text[]) as value`.execute(trx);
        return rows;
      });
      rows.forEach((row, index) => {
        expect(row.at, `${stored[index]} in ${zone}`).toBeInstanceOf(Date);
        expect(row.at.getTime(), `${stored[index]} in ${zone}`).toBe(row.ms);
        // As the API writes it: what toISOString writes for that instant, in every session zone.
        expect(isoString(row.at), `${stored[index]} in ${zone}`).toBe(new Date(row.ms).toISOString());
      });
    }
  });
});
