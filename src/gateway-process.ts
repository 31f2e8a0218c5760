import { createServices } from './app.js';
import { announceFirstRun, graphiqlSetupFor, prepareFirstRun } from './bootstrap.js';
import type { Config } from './config.js';
import { openMigratedDatabase } from './db/open.js';
import { startProcessEngine } from './jobs/process-engine.js';
import type { Logger } from './logger.js';
import { openRedisSignal, redisLog } from './modules/events/publication-signal.js';
import { hardeningFromConfig } from './http/hardening.js';
import { createHttpServer } from './http/node-server.js';
import { createGateway } from './server.js';

/**
 * One gateway: the database, the background engine (unless WORKERS=0), the HTTP server; stops on SIGTERM
 * or SIGINT, draining in-flight requests for up to SHUTDOWN_TIMEOUT_MS, and exits 0. The whole process
 * when it runs alone, or one worker of a cluster (src/cluster.ts).
 */
export async function runGatewayProcess(config: Config, logger: Logger): Promise<void> {
  const database = await openMigratedDatabase(config, logger);
  logger.info({ database: database.kind, dataDir: database.kind === 'pglite' ? config.dataDir : undefined }, 'database ready');
  // The embedded database is served to the CLI on a socket in DATA_DIR while this process holds it;
  // database.close() stops serving it first.
  await database
    .serve?.((error) => logger.warn({ err: error }, 'local database client failed'))
    .catch((error: unknown) => {
      logger.warn({ err: error }, 'the CLI cannot reach the embedded database while the gateway runs');
    });

  const firstRun = await prepareFirstRun(database.db, { production: config.env === 'production' });
  const { services, close: closeServices } = await createServices(config, logger);
  // Before the engine: a Redis that cannot be reached stops the gateway here, with RedisUnavailableError's message.
  const signal = config.events.redisUrl ? await openRedisSignal(config.events.redisUrl, redisLog(logger)) : undefined;
  // The background engine's workers (src/jobs), unless WORKERS=0; stopped with the HTTP server, before the database closes.
  const engine = await startProcessEngine({ config, db: database.db, services, logger, notifications: database.notifications });
  const hardening = await hardeningFromConfig(config.hardening, database, logger);
  const gateway = createGateway({
    database,
    logger,
    services,
    graphiql: config.hardening.graphiql && graphiqlSetupFor(firstRun),
    hardening,
    idempotency: config.idempotency,
    oidc: config.oidc,
    corsAllowedOrigins: config.corsAllowedOrigins,
    apiKeyCache: config.apiKeyCache,
    events: {
      signal,
      maxSubscriptionsPerKey: config.events.maxSubscriptionsPerKey,
      pollIntervalMs: config.engine.pollIntervalMs,
    },
  });
  await gateway.ready();
  const server = createHttpServer(gateway, config.http);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://localhost:${port}/graphql`;
  announceFirstRun(firstRun, { url, logger, terminal: (text) => process.stdout.write(text) });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const engineStopped = engine.stop(config.shutdownTimeoutMs);
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    // Live subscriptions would hold the server open: they complete now, and their clients resume elsewhere.
    void gateway.endSubscriptions().catch(() => {});
    // Keep-alive connections become idle as their last response goes out; close each as it does.
    server.closeIdleConnections();
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    const timer = setTimeout(() => {
      logger.warn('drain timed out; closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    await drained;
    clearInterval(sweeper);
    clearTimeout(timer);
    await gateway.dispose();
    await engineStopped;
    await closeServices();
    await database.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // Announced once a SIGTERM would drain: whoever waits for this line may stop the gateway at once.
  logger.info({ url }, 'gateway listening');
}
