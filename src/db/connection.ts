import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, type LogEvent, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database } from './database.js';

/** Where the gateway's state lives. */
export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolSize: number }
  /** `dataDir: null` keeps the embedded database in memory (tests). */
  | { kind: 'pglite'; dataDir: string | null };

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: DatabaseTarget['kind'];
  /** Resolves while the database answers a trivial statement. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Called for every statement Kysely runs; tests count statements with it. */
  onQuery?: (event: LogEvent) => void;
}

// int8 (counts, sums) as numbers: every count the gateway makes fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const log = options.onQuery;
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: target.url, max: target.poolSize });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
    return handle(db, 'postgres');
  }
  let client: PGlite;
  if (target.dataDir === null) {
    client = new PGlite();
  } else {
    const folder = path.join(target.dataDir, 'pglite');
    await mkdir(folder, { recursive: true });
    client = new PGlite(folder);
  }
  await client.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client), ...(log ? { log } : {}) });
  return handle(db, 'pglite');
}

function handle(db: Kysely<Database>, kind: DatabaseTarget['kind']): DatabaseHandle {
  let closed = false;
  return {
    db,
    kind,
    async ping() {
      if (closed) throw new Error('database is closed');
      await sql`select 1`.execute(db);
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
