import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, type LogEvent, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { gatedDialect } from './embedded-gate.js';
import { initializeEmbeddedFolder } from './embedded-init.js';
import { EMBEDDED_SOCKET_PORT, type EmbeddedServer, serveEmbeddedDatabase } from './embedded-server.js';
import { type DatabaseNotifications, embeddedNotifications, postgresNotifications } from './notifications.js';
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
  /**
   * The embedded database in a folder, opened by this process: serves it to the CLI on a Unix socket in
   * that folder while this process holds it (embedded-server.ts). Closed with the handle at the latest.
   */
  serve?: (onError: (error: unknown) => void) => Promise<EmbeddedServer>;
  /**
   * LISTEN/NOTIFY on this database, in this process: PostgreSQL's, or the embedded database's for the
   * transactions of the process holding it. Absent when the database is reached through another
   * process's socket. Closed with the handle.
   */
  notifications?: DatabaseNotifications;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Called for every statement Kysely runs; tests count statements with it. */
  onQuery?: (event: LogEvent) => void;
  /**
   * For the embedded database in a folder: when a gateway holds it, use it through the socket that
   * gateway serves instead of refusing; when a process holds it that does not serve it (yet: a gateway
   * starting), wait for the socket or the lock up to this many milliseconds. Unset: the folder is opened
   * here, or refused while another process holds it.
   */
  shareWaitMs?: number;
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
    const notifications = postgresNotifications(target.url);
    return {
      ...handle(db, 'postgres', { before: () => notifications.close() }),
      notifications,
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    };
  }
  if (target.dataDir === null) {
    const { PGlite, PGliteDialect, options: engineOptions } = await loadEmbeddedEngine();
    const client = new PGlite(engineOptions);
    await client.waitReady;
    const notifications = embeddedNotifications(client);
    return {
      ...handle(new Kysely<Database>({ dialect: new PGliteDialect(client), ...(log ? { log } : {}) }), 'pglite', {
        before: () => notifications.close(),
      }),
      notifications,
    };
  }
  if (options.shareWaitMs === undefined) return openEmbeddedFolder(target.dataDir, log);
  const deadline = Date.now() + options.shareWaitMs;
  for (;;) {
    const shared = await connectToServingGateway(target.dataDir, log);
    if (shared) return shared;
    try {
      return await openEmbeddedFolder(target.dataDir, log);
    } catch (error) {
      if (!(error instanceof DatabaseInUseError) || error.owner === null) throw error;
      if (Date.now() >= deadline) {
        throw new DatabaseInUseError(
          `The embedded database in ${target.dataDir} is in use by process ${error.owner}, ` +
            'which does not serve it to other processes (a gateway does once it has started). ' +
            'Stop that process first, or share a PostgreSQL server through DATABASE_URL.',
          error.owner,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

// Loaded only when used: the embedded engine adds tens of MB, and a second of start-up, to a process that
// talks to PostgreSQL or to a gateway's socket.
async function loadEmbeddedEngine() {
  const [{ PGlite, Mutex }, { PGliteDialect }, { pg_trgm }, { btree_gin }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
    import('@electric-sql/pglite/contrib/pg_trgm'),
    import('@electric-sql/pglite/contrib/btree_gin'),
  ]);
  // PostgreSQL's default 128 MB of shared buffers are all touched at start: resident memory for a
  // development database that is a few MB. 16 MB still holds it whole. pg_trgm and btree_gin: the search
  // index (migrations/*_integration-search-index*.ts), as on PostgreSQL.
  const options = { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'], extensions: { pg_trgm, btree_gin } };
  return { PGlite, Mutex, PGliteDialect, options };
}

async function openEmbeddedFolder(dataDir: string, log: OpenOptions['onQuery']): Promise<DatabaseHandle> {
  const folder = path.join(dataDir, 'pglite');
  await mkdir(folder, { recursive: true });
  const release = await lockDataDir(dataDir);
  try {
    await initializeEmbeddedFolder(folder);
    const { PGlite, Mutex, PGliteDialect, options: engineOptions } = await loadEmbeddedEngine();
    const client = new PGlite(folder, engineOptions);
    await client.waitReady;
    const gate = new Mutex();
    const db = new Kysely<Database>({ dialect: gatedDialect(new PGliteDialect(client), gate), ...(log ? { log } : {}) });
    let server: Promise<EmbeddedServer> | undefined;
    // Its clients are disconnected, and their transactions rolled back, before the database closes.
    const notifications = embeddedNotifications(client, gate);
    const stopServing = async () => {
      await notifications.close();
      await server?.then(
        (served) => served.close(),
        () => {},
      );
    };
    return {
      ...handle(db, 'pglite', { before: stopServing, after: release }),
      notifications,
      serve: (onError) => (server ??= serveEmbeddedDatabase(client, gate, dataDir, onError)),
    };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * The embedded database through the socket of the gateway that holds it, with `pg` and the same Kysely
 * code as PostgreSQL; null when no gateway serves it (no socket, or one a killed gateway left behind).
 */
async function connectToServingGateway(dataDir: string, log: OpenOptions['onQuery']): Promise<DatabaseHandle | null> {
  // Statements are few and run one after another; the gateway serves one client's transaction at a time.
  const pool = new pg.Pool({
    host: dataDir,
    port: EMBEDDED_SOCKET_PORT,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', () => {});
  try {
    (await pool.connect()).release();
  } catch (error) {
    await pool.end();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return null;
    throw new DatabaseInUseError(`Could not reach the gateway serving the embedded database in ${dataDir}: ${(error as Error).message}`);
  }
  return handle(new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) }), 'pglite');
}

export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';

  constructor(
    message: string,
    /** The process holding the embedded database, when known. */
    readonly owner: number | null = null,
  ) {
    super(message);
  }
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
          `The embedded database in ${dataDir} is in use by process ${owner}. ` +
            'Stop that process first, or share a PostgreSQL server through DATABASE_URL.',
          owner,
        );
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new DatabaseInUseError(`Could not lock the embedded database in ${dataDir}.`);
}

function handle(
  db: Kysely<Database>,
  kind: DatabaseTarget['kind'],
  onClose: { before?: () => Promise<void>; after?: () => Promise<void> } = {},
): DatabaseHandle {
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
        await onClose.before?.();
        await db.destroy();
      } finally {
        await onClose.after?.();
      }
    },
  };
}
