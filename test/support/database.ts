import { randomBytes } from 'node:crypto';
import type { LogEvent } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrator.js';

export type TestDatabaseKind = 'pglite' | 'postgres';

/** Which database this test project runs on (set per project in vitest.config.ts). */
export const testDatabaseKind: TestDatabaseKind = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of the isolated database (PostgreSQL only), for child processes. */
  url: string | null;
  /** Closes the handle and removes the isolated database. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is required for the postgres test project');
  return url;
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database for one test file: a new PostgreSQL database, or an in-memory PGlite. */
export async function createTestDatabase(options: { onQuery?: (event: LogEvent) => void } = {}): Promise<TestDatabase> {
  if (testDatabaseKind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite', dataDir: null }, options);
    await migrateToLatest(handle.db);
    return { ...handle, url: null, drop: () => handle.close() };
  }
  const name = `igw_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 5 }, options);
  await migrateToLatest(handle.db);
  return {
    ...handle,
    url: url.toString(),
    async drop() {
      await handle.close();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}
