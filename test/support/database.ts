import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { Kysely, type LogEvent, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { embeddedNotifications } from '../../src/db/notifications.js';
import { projectRoot } from './process.js';

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

// The embedded database's start parameters, as src/db/connection.ts opens it.
const pgliteStartParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * A migrated embedded database, dumped once and kept under the system's temporary folder, named by the
 * PGlite version and the migrations' contents. Starting PGlite from it skips initdb and the migrations,
 * most of a file's start-up (several seconds each on two cores).
 */
async function migratedPGliteSnapshot(): Promise<Blob> {
  const migrations = path.join(projectRoot, 'migrations');
  const hash = createHash('sha256');
  hash.update(JSON.parse(await readFile(path.join(projectRoot, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')).version);
  for (const file of (await readdir(migrations)).sort()) hash.update(file).update(await readFile(path.join(migrations, file)));
  const folder = path.join(tmpdir(), 'igw-test-pglite');
  const file = path.join(folder, `${hash.digest('hex').slice(0, 24)}.tar`);
  try {
    return new Blob([await readFile(file)]);
  } catch {
    const client = new PGlite({ startParams: pgliteStartParams, extensions: { pg_trgm, btree_gin } });
    const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
    await migrateToLatest(db);
    const dump = await (await client.dumpDataDir('none')).arrayBuffer();
    await db.destroy();
    // Written aside then renamed, so that files starting at once never read half a snapshot.
    await mkdir(folder, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(partial, new Uint8Array(dump));
    await rename(partial, file);
    return new Blob([dump]);
  }
}

/** An in-memory PGlite started from the migrated snapshot, as `openDatabase` opens one without a folder. */
async function openMigratedPGlite(onQuery?: (event: LogEvent) => void): Promise<TestDatabase> {
  const client = new PGlite({
    loadDataDir: await migratedPGliteSnapshot(),
    startParams: pgliteStartParams,
    extensions: { pg_trgm, btree_gin },
  });
  await client.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client), ...(onQuery ? { log: onQuery } : {}) });
  // A no-op unless a migration was added since the snapshot was taken.
  await migrateToLatest(db);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await db.destroy();
  };
  return {
    db,
    kind: 'pglite',
    notifications: embeddedNotifications(client),
    url: null,
    async ping() {
      if (closed) throw new Error('database is closed');
      await sql`select 1`.execute(db);
    },
    close,
    drop: close,
  };
}

/** A fresh, migrated database for one test file: a new PostgreSQL database, or an in-memory PGlite. */
export async function createTestDatabase(options: { onQuery?: (event: LogEvent) => void } = {}): Promise<TestDatabase> {
  if (testDatabaseKind === 'pglite') return openMigratedPGlite(options.onQuery);
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
