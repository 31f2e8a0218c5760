import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';

/** The queue's jobs of one task, as `jobs status` and the metrics show them. */
export interface TaskStatus {
  task: string;
  /** Ready to run now, not taken yet. */
  due: number;
  /** Waiting for their time (a check or refresh not due yet, a retry backing off). */
  scheduled: number;
  /** Taken by a worker. */
  running: number;
  /** Out of attempts: kept for inspection, never run again. */
  failed: number;
  /** When the longest-waiting due job became due; null when none is due. */
  oldestDueAt: Date | null;
}

/**
 * The queue's jobs by task, read from the queue library's public `graphile_worker.jobs` view. Empty
 * before any worker has installed the queue's schema.
 */
export async function queueStatus(db: Kysely<Database>): Promise<TaskStatus[]> {
  const installed = await sql<{ installed: boolean }>`select to_regclass('graphile_worker.jobs') is not null as installed`.execute(db);
  if (!installed.rows[0]?.installed) return [];
  const { rows } = await sql<{
    task: string;
    due: number;
    scheduled: number;
    running: number;
    failed: number;
    oldest_due_at: Date | null;
  }>`
    select task_identifier as task,
      count(*) filter (where locked_at is null and attempts < max_attempts and run_at <= now())::int as due,
      count(*) filter (where locked_at is null and attempts < max_attempts and run_at > now())::int as scheduled,
      count(*) filter (where locked_at is not null)::int as running,
      count(*) filter (where locked_at is null and attempts >= max_attempts)::int as failed,
      min(run_at) filter (where locked_at is null and attempts < max_attempts and run_at <= now()) as oldest_due_at
    from graphile_worker.jobs
    group by task_identifier
    order by task_identifier`.execute(db);
  return rows.map((row) => ({
    task: row.task,
    due: row.due,
    scheduled: row.scheduled,
    running: row.running,
    failed: row.failed,
    oldestDueAt: row.oldest_due_at,
  }));
}
