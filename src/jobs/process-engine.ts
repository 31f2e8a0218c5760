import { type Engine, type EngineOptions, startEngine } from './engine.js';

const NO_ENGINE: Engine = { stop: async () => {} };

/**
 * This process's part of the background engine, as `main.ts` and the worker process start it: none
 * with WORKERS=0, and none (logged) when the queue cannot reach the database, so that the gateway
 * still serves. The embedded database must be served on its socket first (`database.serve`).
 */
export async function startProcessEngine(options: EngineOptions): Promise<Engine> {
  const { config, logger } = options;
  if (!config.engine.workers) {
    logger.info('background workers are off in this process (WORKERS=0)');
    return NO_ENGINE;
  }
  try {
    const engine = await startEngine(options);
    logger.info(
      { concurrency: config.engine.concurrency, healthCheckIntervalSeconds: config.engine.healthCheckIntervalSeconds },
      'background workers started',
    );
    return engine;
  } catch (error) {
    logger.error({ err: error }, 'the background engine could not start: this process runs no scheduled probes or refreshes');
    return NO_ENGINE;
  }
}
