import pg from 'pg';
import type { Config } from '../config.js';
import { EMBEDDED_SOCKET_PORT } from '../db/embedded-server.js';

/** The queue library's own connections to the gateway's database. */
export interface EnginePool {
  pool: pg.Pool;
  /**
   * The embedded database has one session shared by all its socket clients: a named prepared statement
   * of one client exists for all, and the next client preparing the same name fails. The queue's
   * statements go unnamed there.
   */
  noPreparedStatements: boolean;
}

/**
 * Connections for the engine: to PostgreSQL by DATABASE_URL, or to the embedded database through the
 * socket that the process holding it serves in DATA_DIR (src/db/embedded-server.ts), which this
 * process may be. One code path: the queue sees PostgreSQL either way.
 */
export function enginePool(config: Config, connections: number): EnginePool {
  const pool = config.databaseUrl
    ? new pg.Pool({ connectionString: config.databaseUrl, max: connections })
    : new pg.Pool({ host: config.dataDir, port: EMBEDDED_SOCKET_PORT, user: 'postgres', database: 'postgres', max: connections });
  // A connection lost while idle must not crash the process; the queue reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return { pool, noPreparedStatements: !config.databaseUrl };
}
