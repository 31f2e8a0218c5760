import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { type Config, ConfigError } from './config.js';
import type { Logger } from './logger.js';

/** How many gateway processes to run, and why, before any of them starts. */
export interface WorkerPlan {
  count: number;
  /** Set when the count is not the one asked for or defaulted to: logged at start. */
  reason?: string;
}

/** `--workers N` (or `--workers=N`) among the command's arguments; undefined when absent. */
export function workersArgument(argv: readonly string[]): number | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg !== '--workers' && !arg.startsWith('--workers=')) continue;
    const value = arg === '--workers' ? argv[i + 1] : arg.slice('--workers='.length);
    const count = Number(value);
    if (value === undefined || value === '' || !Number.isInteger(count) || count < 1 || count > MAX_WORKERS)
      throw new ConfigError(`Invalid arguments: --workers: expected a whole number from 1 to ${MAX_WORKERS}, got ${value ?? 'nothing'}`);
    return count;
  }
  return undefined;
}

export const MAX_WORKERS = 256;

/**
 * `--workers N`, else WEB_CONCURRENCY, else the number of cores in production and 1 elsewhere. The
 * embedded database lives in one process: more than one worker asked for explicitly is refused, and the
 * production default falls back to 1 with the reason logged.
 */
export function planWorkers(config: Config, argv: readonly string[], cores = availableParallelism()): WorkerPlan {
  const asked = workersArgument(argv) ?? config.webConcurrency;
  if (config.databaseUrl === undefined) {
    if (asked !== undefined && asked > 1)
      throw new ConfigError(
        `Invalid configuration: WEB_CONCURRENCY (or --workers) is ${asked}, but the embedded database (no DATABASE_URL) ` +
          'belongs to one process: set DATABASE_URL to a PostgreSQL server to run several workers, or use 1',
      );
    if (asked === undefined && config.env === 'production' && cores > 1)
      return {
        count: 1,
        reason: `one process rather than one per core (${cores}): the embedded database (no DATABASE_URL) belongs to one process`,
      };
    return { count: 1 };
  }
  return { count: asked ?? (config.env === 'production' ? cores : 1) };
}

/** Tells a forked worker its slot (1..N), which outlives the worker: a replacement takes its slot. */
const ENV_SLOT = 'GATEWAY_WORKER_SLOT';

/** The slot (1..N) of this cluster worker, or null outside a cluster. */
export function workerSlot(): number | null {
  const slot = Number(process.env[ENV_SLOT]);
  return cluster.isWorker && Number.isInteger(slot) && slot > 0 ? slot : null;
}

/**
 * The primary of a cluster of `count` gateway processes (`node:cluster`): forks them, each listening on
 * the same port (the primary hands out connections in turn); replaces a worker that dies after it had
 * started listening; a worker that fails before it listens stops the cluster (exit 1), since its
 * replacement would fail the same way. On SIGTERM or SIGINT every worker drains as a single process does,
 * and the primary exits 0 once all have exited 0, or kills those still running after SHUTDOWN_TIMEOUT_MS
 * and a grace second for their own clean-up, and exits 1.
 *
 * The background engine runs in slot 1 only (unless WORKERS=0): a replacement of slot 1 takes it over.
 * The queue lives in the database, so one process's share is the whole cluster's, and N engines would
 * multiply the concurrency and the connections it holds.
 */
export function runPrimary(config: Config, plan: WorkerPlan, logger: Logger): void {
  const slots = new Map<Worker, number>();
  const listening = new Set<Worker>();
  let stopping = false;
  let failed = false;

  const fork = (slot: number) => {
    const worker = cluster.fork({ [ENV_SLOT]: String(slot), ...(slot === 1 ? {} : { WORKERS: '0' }) });
    slots.set(worker, slot);
    worker.on('listening', () => listening.add(worker));
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker);
    const started = listening.has(worker);
    slots.delete(worker);
    listening.delete(worker);
    if (slot === undefined) return;
    if (stopping) {
      if (code !== 0) failed = true;
      if (slots.size === 0) finish();
      return;
    }
    if (!started) {
      logger.error({ pid: worker.process.pid, slot, code, signal }, 'a gateway worker failed to start: stopping the cluster');
      failed = true;
      stop('worker failed');
      return;
    }
    logger.warn({ pid: worker.process.pid, slot, code, signal }, 'a gateway worker died: starting another');
    fork(slot);
  });

  let killTimer: NodeJS.Timeout | undefined;
  const finish = () => {
    clearTimeout(killTimer);
    logger.info({ ok: !failed }, 'cluster stopped');
    process.exit(failed ? 1 : 0);
  };
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: slots.size }, 'cluster shutting down: every worker drains');
    if (slots.size === 0) return finish();
    for (const worker of slots.keys()) worker.process.kill('SIGTERM');
    killTimer = setTimeout(() => {
      logger.warn('workers still running after SHUTDOWN_TIMEOUT_MS: killing them');
      failed = true;
      for (const worker of slots.keys()) worker.process.kill('SIGKILL');
    }, config.shutdownTimeoutMs + 1_000);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  logger.info({ workers: plan.count, ...(plan.reason ? { reason: plan.reason } : {}) }, 'cluster starting');
  for (let slot = 1; slot <= plan.count; slot += 1) fork(slot);
}
