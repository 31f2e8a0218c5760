import { createServices } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { DatabaseInUseError } from './db/connection.js';
import { openMigratedDatabase } from './db/open.js';
import { startEngine } from './jobs/engine.js';
import { createLogger } from './logger.js';
import { RedisUnavailableError } from './modules/events/publication-signal.js';

/** How long a worker waits for a starting gateway to serve the embedded database. */
const SHARE_WAIT_MS = 30_000;

/**
 * A process that only works (`npm run worker`): the background engine's workers, no HTTP server. On
 * PostgreSQL any number of them share the queue with the gateways; with the embedded database it uses
 * the database through the socket of the gateway that holds it, or holds and serves it itself when no
 * gateway runs.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.engine.workers) throw new ConfigError('Invalid configuration: WORKERS: a worker process with WORKERS=0 has nothing to do');
  const logger = createLogger({ level: config.logLevel });
  const database = await openMigratedDatabase(config, logger, { shareWaitMs: SHARE_WAIT_MS });
  await database.serve?.((error) => logger.warn({ err: error }, 'local database client failed'));
  const { services, close: closeServices } = await createServices(config, logger);
  const engine = await startEngine({ config, db: database.db, services, logger, notifications: database.notifications });
  logger.info({ concurrency: config.engine.concurrency, database: database.kind }, 'worker started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing running jobs');
    await engine.stop(config.shutdownTimeoutMs);
    // A job cut off may still wait for a provider's answer, which nobody wants any more.
    await Promise.race([closeServices(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    await database.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError || error instanceof DatabaseInUseError || error instanceof RedisUnavailableError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`integrations-gateway worker failed to start: ${message}\n`);
  process.exit(1);
});
