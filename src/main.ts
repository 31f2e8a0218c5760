import cluster from 'node:cluster';
import { planWorkers, runPrimary } from './cluster.js';
import { ConfigError, loadConfig } from './config.js';
import { DatabaseInUseError } from './db/connection.js';
import { runGatewayProcess } from './gateway-process.js';
import { createLogger } from './logger.js';
import { RedisUnavailableError } from './modules/events/publication-signal.js';

// One gateway process, or with WEB_CONCURRENCY (or --workers) above 1 the primary of a cluster whose
// workers each run one (src/cluster.ts); a worker comes back here and runs its gateway.
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  if (cluster.isWorker) return runGatewayProcess(config, logger);
  const plan = planWorkers(config, process.argv.slice(2));
  if (plan.count === 1) {
    if (plan.reason) logger.info({ reason: plan.reason }, 'one gateway process');
    return runGatewayProcess(config, logger);
  }
  runPrimary(config, plan, logger);
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError || error instanceof DatabaseInUseError || error instanceof RedisUnavailableError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`integrations-gateway failed to start: ${message}\n`);
  process.exit(1);
});
