import pg from 'pg';
import { readCpuMs as cpuMsOf } from './processes.js';

/**
 * CPU time of the PostgreSQL backends serving one database, read from /proc: the server's share of a
 * request's cost, which on a shared 2-core machine competes with the Node processes. Only meaningful
 * when PostgreSQL runs on this machine; `available` says whether it could be read.
 */
export interface DatabaseCpu {
  available: boolean;
  /** Backend pids and their CPU ms now; diff two snapshots with `since`. */
  snapshot(): Promise<Map<number, number>>;
  since(before: Map<number, number>): Promise<number>;
  close(): Promise<void>;
}

export async function watchDatabaseCpu(databaseUrl: string, databaseName: string): Promise<DatabaseCpu> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const snapshot = async () => {
    const { rows } = await client.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [databaseName],
    );
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = cpuMsOf(pid);
      if (ms !== null) out.set(pid, ms);
    }
    return out;
  };
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const available = cpuMsOf(rows[0]?.pid ?? -1) !== null;
  return {
    available,
    snapshot,
    async since(before) {
      const now = await snapshot();
      let total = 0;
      // A backend that started meanwhile counts from zero; one that ended meanwhile is lost (pools keep theirs open under load).
      for (const [pid, ms] of now) total += ms - (before.get(pid) ?? 0);
      return total;
    },
    close: () => client.end(),
  };
}
