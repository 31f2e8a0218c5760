import type { WorkerEvents } from 'graphile-worker';
import type { Kysely } from 'kysely';
import client from 'prom-client';
import type { Database } from '../db/database.js';
import { processRegistry } from '../http/observability/metrics.js';
import { queueStatus, type TaskStatus } from './status.js';

/** The queue gauges read the database at most this often, however often Prometheus scrapes. */
const QUEUE_STATUS_TTL_MS = 10_000;

const jobs = new client.Counter({
  name: 'gateway_jobs_total',
  help: 'Background job attempts run by this process, by task and outcome (success, error: retried later, failed: out of attempts).',
  labelNames: ['task', 'outcome'] as const,
  registers: [processRegistry],
});

const probeLag = new client.Histogram({
  name: 'gateway_health_probe_lag_seconds',
  help: 'How late scheduled health probes ran after their due time.',
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900],
  registers: [processRegistry],
});

/** Where the queue gauges read from: the database of the last engine started in this process. */
let source: { db: Kysely<Database>; cached: Promise<TaskStatus[]> | null; readAt: number } | null = null;

async function currentStatus(): Promise<TaskStatus[]> {
  if (!source) return [];
  if (!source.cached || Date.now() - source.readAt > QUEUE_STATUS_TTL_MS) {
    source.readAt = Date.now();
    source.cached = queueStatus(source.db).catch(() => []);
  }
  return source.cached;
}

new client.Gauge({
  name: 'gateway_jobs_due',
  help: 'Background jobs due and not yet taken by a worker, by task (queue depth).',
  labelNames: ['task'] as const,
  registers: [processRegistry],
  async collect() {
    this.reset();
    for (const status of await currentStatus()) this.set({ task: status.task }, status.due);
  },
});

new client.Gauge({
  name: 'gateway_jobs_oldest_due_age_seconds',
  help: 'How long the longest-waiting due background job has waited, by task.',
  labelNames: ['task'] as const,
  registers: [processRegistry],
  async collect() {
    this.reset();
    for (const status of await currentStatus()) {
      if (status.oldestDueAt) this.set({ task: status.task }, Math.max(0, (Date.now() - status.oldestDueAt.getTime()) / 1000));
    }
  },
});

/** Counts the jobs a runner runs, and points the queue gauges at its database. */
export function observeEngine(events: WorkerEvents, db: Kysely<Database>): void {
  source = { db, cached: null, readAt: 0 };
  events.on('job:success', ({ job }) => jobs.inc({ task: job.task_identifier, outcome: 'success' }));
  events.on('job:error', ({ job }) => jobs.inc({ task: job.task_identifier, outcome: 'error' }));
  events.on('job:failed', ({ job }) => jobs.inc({ task: job.task_identifier, outcome: 'failed' }));
}

/** Records how late a scheduled probe ran. */
export function recordProbeLag(seconds: number): void {
  if (Number.isFinite(seconds)) probeLag.observe(Math.max(0, seconds));
}
