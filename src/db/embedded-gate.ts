import type { Mutex } from '@electric-sql/pglite';
import type { DatabaseConnection, Dialect, Driver, Kysely, QueryCompiler, TransactionSettings } from 'kysely';

/**
 * Who may talk to the embedded database now. PGlite has a single session: a statement sent while
 * another party is inside a transaction (or between a Parse and its Sync) would run inside that party's
 * transaction. The gateway's Kysely connection and every local socket client take this gate, first come
 * first served, and hold it from their first message until the session is idle again.
 */
export type EmbeddedGate = Mutex;

/**
 * The gateway's side of the gate: Kysely acquires its one connection for a statement, or for a whole
 * transaction, and holds the gate for as long.
 */
class GatedDriver implements Driver {
  readonly #releases = new Map<DatabaseConnection, () => void>();

  constructor(
    private readonly inner: Driver,
    private readonly gate: EmbeddedGate,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.gate.acquire();
    try {
      const connection = await this.inner.acquireConnection();
      this.#releases.set(connection, release);
      return connection;
    } catch (error) {
      release();
      throw error;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = this.#releases.get(connection);
    this.#releases.delete(connection);
    try {
      await this.inner.releaseConnection(connection);
    } finally {
      release?.();
    }
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `dialect` with every connection it hands out held under `gate`. */
export function gatedDialect(dialect: Dialect, gate: EmbeddedGate): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new GatedDriver(dialect.createDriver(), gate),
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    // Migrations run on a schema of their own time (Kysely<any>, as Kysely's migrator documents).
    // biome-ignore lint/suspicious/noExplicitAny: migrations run on a schema of their own time
    createIntrospector: (db: Kysely<any>) => dialect.createIntrospector(db),
  };
}
