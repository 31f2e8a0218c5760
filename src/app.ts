import type { Config } from './config.js';
import { type DatabaseHandle, type DatabaseTarget, openDatabase } from './db/connection.js';
import { migrateToLatest } from './db/migrator.js';
import type { Logger } from './logger.js';
import type { GatewayServices } from './services.js';

export function databaseTarget(config: Config): DatabaseTarget {
  return config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl, poolSize: config.databasePoolSize }
    : { kind: 'pglite', dataDir: config.dataDir };
}

/** Opens the configured database and brings its schema up to date. Shared by the server and the CLI. */
export async function openMigratedDatabase(config: Config, logger?: Logger): Promise<DatabaseHandle> {
  const database = await openDatabase(databaseTarget(config));
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length > 0) logger?.info({ migrations: applied }, 'applied migrations');
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** Builds the process-wide services from configuration. */
export async function createServices(config: Config, logger: Logger): Promise<GatewayServices> {
  return {
    vault: {
      seal: () => {
        throw new Error('vault pending');
      },
      open: () => {
        throw new Error('vault pending');
      },
    },
    http: (url, init) => fetch(url, init),
    connectorSettings: config.connectors,
    probeTimeoutMs: 10_000,
    publicUrl: config.publicUrl,
    logger,
    production: config.env === 'production',
  };
}
