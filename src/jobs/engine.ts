import { EventEmitter } from 'node:events';
import {
  type AddJobFunction,
  makeWorkerUtils,
  Logger as QueueLogger,
  type Runner,
  run,
  runOnce,
  type TaskList,
  type WorkerEvents,
} from 'graphile-worker';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { DatabaseNotifications } from '../db/notifications.js';
import type { Logger } from '../logger.js';
import type { GatewayServices } from '../services.js';
import { databaseSignal, openRedisSignal, type PublicationSignal, redisLog } from '../modules/events/publication-signal.js';
import { publishAll } from '../modules/events/publication.js';
import { observeEngine } from './engine.metrics.js';
import { eventConsumers } from './event-consumers.js';
import { startEventPublisher } from './event-publisher.js';
import { enginePool } from './engine-pool.js';
import { HEALTH_PROBE_TASK, integrationPayload, probeOnSchedule, type TaskDeps } from './health-probe.task.js';
import { ProbeClaims } from './probe-claims.js';
import {
  EVENT_PURGE_PERIOD_MS,
  EVENT_PURGE_TASK,
  IDEMPOTENCY_PURGE_PERIOD_MS,
  IDEMPOTENCY_PURGE_TASK,
  purgeEvents,
  purgeIdempotencyKeys,
} from './purge.task.js';
import { SWEEP_TASK, sweep, sweepPeriodMs } from './sweep.task.js';
import { SYNC_TASK, syncOnSchedule } from './sync.task.js';
import { refreshOnSchedule, TOKEN_REFRESH_TASK } from './token-refresh.task.js';
import { DELIVER_TASK, deliverWebhooks, sweepWebhooks, WEBHOOK_SWEEP_PERIOD_MS, WEBHOOK_SWEEP_TASK } from './webhook-delivery.task.js';

export interface EngineOptions {
  config: Config;
  db: Kysely<Database>;
  services: GatewayServices;
  logger: Logger;
  /** The database's LISTEN/NOTIFY in this process (DatabaseHandle.notifications): wakes the event publisher at once. */
  notifications?: DatabaseNotifications | undefined;
}

/** This process's workers. */
export interface Engine {
  /**
   * Stops taking jobs and lets running ones finish for up to `timeoutMs`; a job still running then is
   * handed back to the queue, where another process runs it at once.
   */
  stop(timeoutMs: number): Promise<void>;
}

function taskList(deps: TaskDeps, logger: Logger, retentionDays: number): TaskList {
  return {
    [SWEEP_TASK]: async (_payload, helpers) => {
      const result = await sweep(deps.db, deps.config, deps.services.probeTimeoutMs, (specs) => helpers.addJobs(specs, true));
      if (result.probesQueued + result.refreshesQueued + result.syncsQueued > 0) logger.debug(result, 'engine sweep queued jobs');
    },
    [HEALTH_PROBE_TASK]: async (payload, helpers) => {
      await probeOnSchedule(deps, integrationPayload(payload), helpers.job.id);
    },
    [TOKEN_REFRESH_TASK]: async (payload, helpers) => {
      await refreshOnSchedule(deps, integrationPayload(payload), helpers.job.id);
    },
    [SYNC_TASK]: async (payload, helpers) => {
      await syncOnSchedule(deps, integrationPayload(payload), helpers.job.id);
    },
    [IDEMPOTENCY_PURGE_TASK]: async () => {
      await purgeIdempotencyKeys(deps.db, logger);
    },
    [DELIVER_TASK]: (payload) => deliverWebhooks(deps, payload, logger),
    [WEBHOOK_SWEEP_TASK]: () => sweepWebhooks(deps, logger),
    [EVENT_PURGE_TASK]: async () => {
      await purgeEvents(deps.db, retentionDays, logger);
    },
  };
}

/** The queue library's log lines, through the gateway's logger: its warnings and errors as such, the rest (a line per job) as debug. */
function queueLogger(logger: Logger): QueueLogger {
  return new QueueLogger((scope) => (level, message, meta) => {
    const line = { scope: { label: scope.label, workerId: scope.workerId, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId } };
    const error = meta?.error;
    if (level === 'error') logger.error({ ...line, err: error }, message);
    else if (level === 'warning') logger.warn({ ...line, err: error }, message);
    else logger.debug(line, message);
  });
}

/**
 * Work that recurs for the whole deployment. Every worker process queues it under one key for the next
 * boundary of its period (the same moment in every process), so that it runs once a period however many
 * processes there are; each process also queues it for now when it starts.
 */
const RECURRING: readonly { task: string; key: string; periodMs: (config: Config) => number }[] = [
  { task: SWEEP_TASK, key: 'engine:sweep', periodMs: (config) => sweepPeriodMs(config.engine) },
  { task: IDEMPOTENCY_PURGE_TASK, key: 'retention:idempotency-keys', periodMs: () => IDEMPOTENCY_PURGE_PERIOD_MS },
  { task: WEBHOOK_SWEEP_TASK, key: 'engine:webhook-sweep', periodMs: () => WEBHOOK_SWEEP_PERIOD_MS },
  { task: EVENT_PURGE_TASK, key: 'retention:events', periodMs: () => EVENT_PURGE_PERIOD_MS },
];

function queueRecurring(addJob: AddJobFunction, config: Config, logger: Logger): NodeJS.Timeout[] {
  return RECURRING.map(({ task, key, periodMs }) => {
    const period = periodMs(config);
    const queue = (runAt: Date) =>
      void addJob(task, {}, { jobKey: key, jobKeyMode: 'preserve_run_at', runAt, maxAttempts: 1 }).catch((error: unknown) =>
        logger.warn({ err: error, task }, 'could not queue recurring engine work'),
      );
    queue(new Date());
    const timer = setInterval(() => queue(new Date(Math.ceil(Date.now() / period) * period)), period);
    timer.unref();
    return timer;
  });
}

/**
 * Starts this process's workers on the gateway's database: they install the queue's schema when
 * needed, take due jobs from every process's queue (LISTEN/NOTIFY and polling), and queue the
 * deployment's recurring work.
 */
export async function startEngine(options: EngineOptions): Promise<Engine> {
  const { config, logger } = options;
  const cutOff = new AbortController();
  const claims = new ProbeClaims();
  const deps: TaskDeps = { db: options.db, services: options.services, config: config.engine, cutOff: cutOff.signal, claims };
  // Before anything starts: a Redis that cannot be reached stops the engine here (RedisUnavailableError).
  const signal = config.events.redisUrl
    ? await openRedisSignal(config.events.redisUrl, redisLog(logger))
    : databaseSignal(options.notifications);
  const { pool, noPreparedStatements } = enginePool(config, config.engine.concurrency + 2);
  const events = new EventEmitter() as WorkerEvents;
  // Who locks this process's jobs: its worker pool (and, in other versions of the queue, its workers).
  const lockOwners = new Set<string>();
  events.on('pool:create', ({ workerPool }) => lockOwners.add(workerPool.id));
  events.on('worker:create', ({ worker }) => lockOwners.add(worker.workerId));
  observeEngine(events, options.db);
  let runner: Runner;
  try {
    runner = await run({
      pgPool: pool,
      noPreparedStatements,
      concurrency: config.engine.concurrency,
      pollInterval: config.engine.pollIntervalMs,
      noHandleSignals: true,
      logger: queueLogger(logger),
      taskList: taskList(deps, logger, config.events.retentionDays),
      events,
      // Recurring work is queued by each process under one key (RECURRING), at periods shorter than cron's minute.
      parsedCronItems: [],
      gracefulShutdownAbortTimeout: config.shutdownTimeoutMs,
    });
  } catch (error) {
    await pool.end();
    await signal.close();
    throw error;
  }
  const timers = queueRecurring(runner.addJob, config, logger);
  const publisher = await startEventPublisher({
    db: options.db,
    consumers: eventConsumers({ db: options.db, config, services: options.services, logger }),
    notifications: options.notifications,
    signal,
    pollIntervalMs: config.engine.pollIntervalMs,
    logger,
  });

  /** Gives this process's running jobs back: their checks due again, their jobs unlocked for any worker to take now. */
  const handBack = async () => {
    cutOff.abort();
    await claims.releaseAll(options.db);
    const utils = await makeWorkerUtils({ pgPool: pool, noPreparedStatements, logger: queueLogger(logger) });
    try {
      await utils.forceUnlockWorkers([...lockOwners]);
    } finally {
      await utils.release();
    }
  };
  let stopping: Promise<void> | undefined;
  return {
    stop(timeoutMs) {
      stopping ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        await publisher.stop();
        await signal.close();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'cut'>((resolve) => {
          timer = setTimeout(() => resolve('cut'), timeoutMs);
        });
        const stopped = runner.stop().then(() => 'stopped' as const);
        if ((await Promise.race([stopped, deadline])) === 'cut') {
          logger.warn('engine shutdown timed out; handing running jobs back to the queue');
          // The tasks themselves may still wait (for a provider), and `stopped` with them: nothing of
          // theirs is awaited any more, and what they would record is refused (cutOff).
          stopped.catch(() => undefined);
          await handBack().catch((error: unknown) => logger.warn({ err: error }, 'could not hand running jobs back'));
          // Connections a cut-off task still holds end with the process.
          void pool.end().catch(() => undefined);
        } else {
          await pool.end();
        }
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * Runs every job that is due now, once, and returns how many ran: for deployments that run the engine
 * from cron (`jobs run-due`) rather than in long-lived processes. The sweep runs first, so that every due
 * check and refresh is queued.
 */
export async function runDueJobs(options: EngineOptions): Promise<number> {
  const { config, logger } = options;
  const deps: TaskDeps = {
    db: options.db,
    services: options.services,
    config: config.engine,
    cutOff: new AbortController().signal,
    claims: new ProbeClaims(),
  };
  const { pool, noPreparedStatements } = enginePool(config, 3);
  try {
    const utils = await makeWorkerUtils({ pgPool: pool, noPreparedStatements, logger: queueLogger(logger) });
    try {
      await utils.migrate();
      await utils.addJob(SWEEP_TASK, {}, { jobKey: 'engine:sweep', jobKeyMode: 'replace', maxAttempts: 1 });
      await utils.addJob(IDEMPOTENCY_PURGE_TASK, {}, { jobKey: 'retention:idempotency-keys', jobKeyMode: 'replace', maxAttempts: 1 });
      await utils.addJob(EVENT_PURGE_TASK, {}, { jobKey: 'retention:events', jobKeyMode: 'replace', maxAttempts: 1 });
    } finally {
      await utils.release();
    }
    const events = new EventEmitter() as WorkerEvents;
    let ran = 0;
    events.on('job:complete', () => {
      ran += 1;
    });
    // Runs until nothing is due: the sweep, then the checks and refreshes it queued for now.
    await runOnce({
      pgPool: pool,
      noPreparedStatements,
      noHandleSignals: true,
      logger: queueLogger(logger),
      taskList: taskList(deps, logger, config.events.retentionDays),
      events,
    });
    // What the jobs recorded, and anything left unpublished, reaches consumers and subscribers now.
    const consumers = eventConsumers({ db: options.db, config, services: options.services, logger });
    const last = await publishAll(options.db, consumers);
    if (last !== null && config.events.redisUrl) {
      // Subscribers poll as well: a Redis that cannot be reached only delays what they see.
      const signal: PublicationSignal | null = await openRedisSignal(config.events.redisUrl).catch((error: unknown) => {
        logger.warn({ err: error }, 'events: published, but Redis could not be told; subscribers see them on their next poll');
        return null;
      });
      signal?.announce(last);
      await signal?.close();
    }
    return ran;
  } finally {
    await pool.end();
  }
}
