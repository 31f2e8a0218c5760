import type { Config } from './config.js';
import { type DatabaseHandle, type DatabaseTarget, openDatabase } from './db/connection.js';
import { migrateToLatest } from './db/migrator.js';
import type { Logger } from './logger.js';
import { createHttpClientFromConfig } from './outbound/index.js';
import { createVault } from './secrets/index.js';
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

/** The process-wide services, and what to close on shutdown. */
export interface ProcessServices {
  services: GatewayServices;
  /** Closes the outbound connection pools. */
  close(): Promise<void>;
}

/** Builds the process-wide services from configuration. */
export async function createServices(config: Config, logger: Logger): Promise<ProcessServices> {
  const http = createHttpClientFromConfig(config);
  const services: GatewayServices = {
    vault: await createVault(config, logger),
    http,
    connectorSettings: config.connectors,
    probeTimeoutMs: config.providerTimeoutMs,
    publicUrl: config.publicUrl,
    logger,
    production: config.env === 'production',
  };
  return { services, close: () => http.close() };
}
