import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, type LogEvent, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { usePreparedStatements } from './prepared-statements.js';
import { parseTimestamptz } from './timestamps.js';

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
  /** Connections of the `pg` pool, for metrics; absent for the embedded database (one connection). */
  poolStats?: () => { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Called for every statement Kysely runs; tests count statements with it. */
  onQuery?: (event: LogEvent) => void;
}

// int8 (counts, sums) as numbers: every count the gateway makes fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));
// timestamptz read digit by digit (timestamps.ts); pg's own parser for any other layout.
const parseTimestamptzGenerally = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (value: string) => Date;
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (value) => parseTimestamptz(value) ?? parseTimestamptzGenerally(value));

export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const log = options.onQuery;
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: target.url, max: target.poolSize });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    usePreparedStatements(pool);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
    return { ...handle(db, 'postgres'), poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }) };
  }
  // Loaded only when used: the embedded engine adds tens of MB to a process that talks to PostgreSQL.
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([import('@electric-sql/pglite'), import('kysely-pglite-dialect')]);
  if (target.dataDir === null) {
    const client = new PGlite();
    await client.waitReady;
    return handle(new Kysely<Database>({ dialect: new PGliteDialect(client), ...(log ? { log } : {}) }), 'pglite');
  }
  const folder = path.join(target.dataDir, 'pglite');
  await mkdir(folder, { recursive: true });
  const release = await lockDataDir(target.dataDir);
  try {
    const client = new PGlite(folder);
    await client.waitReady;
    return handle(new Kysely<Database>({ dialect: new PGliteDialect(client), ...(log ? { log } : {}) }), 'pglite', release);
  } catch (error) {
    await release();
    throw error;
  }
}

export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded database is a single-process engine: a second process opening the same folder would
 * corrupt it. A lock file holding the owner's pid refuses the second opener; a stale one is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(dataDir, 'pglite.lock');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
        throw new DatabaseInUseError(
          `The embedded database in ${dataDir} is in use by process ${owner}. Stop that process first, or share a PostgreSQL server through DATABASE_URL.`,
        );
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new DatabaseInUseError(`Could not lock the embedded database in ${dataDir}.`);
}

function handle(db: Kysely<Database>, kind: DatabaseTarget['kind'], release?: () => Promise<void>): DatabaseHandle {
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
      try {
        await db.destroy();
      } finally {
        await release?.();
      }
    },
  };
}
