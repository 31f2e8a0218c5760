import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { type DatabaseHandle, type DatabaseTarget, type OpenOptions, openDatabase } from './connection.js';
import { isUpToDate, migrateToLatest } from './migrator.js';

export function databaseTarget(config: Config): DatabaseTarget {
  return config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl, poolSize: config.databasePoolSize }
    : { kind: 'pglite', dataDir: config.dataDir };
}

/** Opens the configured database and brings its schema up to date. Shared by the server and the CLI. */
export async function openMigratedDatabase(config: Config, logger?: Logger, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const database = await openDatabase(databaseTarget(config), options);
  try {
    if (!(await isUpToDate(database.db))) {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) logger?.info({ migrations: applied }, 'applied migrations');
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}
