import { type LoadResult, runLoad } from './load.js';
import type { Profile } from './options.js';
import type { ServerProcess } from './processes.js';
import type { Mode, PairedRound, Series } from './report.js';
import type { Call } from './workloads.js';

export type Check = (index: number, status: number, body: string) => string | null;

/** One side of a timed workload: who is asked, what, and how an answer is checked. */
export interface Target {
  name: string;
  server: () => ServerProcess;
  calls: Call[];
  check: Check;
}

/**
 * A workload under load: A alone (W4), or A paired with B (the baseline, or W5 without the key), and
 * for W1 and W3 C, the second reference (PostGraphile), run right after B in every round.
 */
export interface Timed {
  id: string;
  a: Target;
  b: Target | null;
  c?: Target | null;
  /**
   * B goes first in every other round (`--compare`: two builds of the gateway, where whichever runs second
   * would otherwise always find the database's caches and the machine as the first left them).
   */
  alternate?: boolean;
}

export interface RoundOptions {
  profile: Profile;
  databaseCpu?: { start(): Promise<unknown>; stop(token: unknown): Promise<number | null> };
  log: (line: string) => void;
  /** Receives every run's problem: a wrong or refused answer, or no answer at all. */
  problem: (line: string) => void;
}

function describe(result: LoadResult): string {
  const cpu = result.cpuMsPerRequest === null ? '' : `  cpu ${result.cpuMsPerRequest.toFixed(2)}`;
  const db = result.dbCpuMsPerRequest === null ? '' : ` + db ${result.dbCpuMsPerRequest.toFixed(2)} ms/req`;
  const latency = `p50 ${result.p50.toFixed(2).padStart(6)} ms  p99 ${result.p99.toFixed(2).padStart(6)} ms`;
  const rss = result.serverRssMax ? `  rss ${(result.serverRssMax / 2 ** 20).toFixed(0)} MiB` : '';
  return `${result.rps.toFixed(0).padStart(6)} req/s  ${latency}${cpu}${db}${rss}`;
}

/**
 * For each workload, at one connection and at the profile's concurrency: a warm-up of each side, then
 * rounds of A immediately followed by B, each round giving its own ratios.
 */
export async function measureRounds(timed: readonly Timed[], options: RoundOptions): Promise<Series[]> {
  const { profile, databaseCpu } = options;
  const run = async (target: Target, connections: number, durationSec: number, label: string) => {
    const server = target.server();
    let rssMax: number | null = null;
    const sampleRss = () => {
      const rss = server.memory()?.rss;
      if (rss !== undefined) rssMax = Math.max(rssMax ?? 0, rss);
    };
    const sampler = setInterval(sampleRss, 200);
    const result = await runLoad({
      url: server.url,
      calls: target.calls,
      connections,
      durationSec,
      sampleEvery: profile.sampleEvery,
      serverCpuMs: () => server.cpuMs(),
      ...(databaseCpu ? { databaseCpu } : {}),
      verify: target.check,
    }).finally(() => clearInterval(sampler));
    sampleRss();
    result.serverRssMax = rssMax;
    if (result.problem || result.non2xx > 0 || result.mismatches > 0 || result.requests === 0) {
      options.problem(`${label} ${target.name}: ${result.problem ?? `${result.non2xx} non-2xx answers, ${result.requests} answers`}`);
    }
    return result;
  };
  const series: Series[] = [];
  // Each server warms up once on each list of questions, however many workloads pair it: a server warmed
  // twice as long as the one it is paired with (--compare) would start its rounds ahead.
  const warmed = new Map<ServerProcess, Set<Call[]>>();
  for (const workload of timed) {
    for (const target of [workload.a, workload.b, workload.c].filter((t): t is Target => Boolean(t))) {
      const server = target.server();
      const lists = warmed.get(server) ?? new Set<Call[]>();
      warmed.set(server, lists);
      if (lists.has(target.calls)) continue;
      lists.add(target.calls);
      await run(target, profile.connections, profile.serverWarmupSec, `${workload.id} server warm-up`);
    }
  }
  for (const workload of timed) {
    for (const mode of ['latency', 'throughput'] as Mode[]) {
      const connections = mode === 'latency' ? 1 : profile.connections;
      const tag = `${workload.id} ${mode} c=${connections}`;
      await run(workload.a, connections, profile.warmupSec, `${tag} warm-up`);
      if (workload.b) await run(workload.b, connections, profile.warmupSec, `${tag} warm-up`);
      if (workload.c) await run(workload.c, connections, profile.warmupSec, `${tag} warm-up`);
      const rounds: PairedRound[] = [];
      for (let round = 1; round <= profile.rounds; round += 1) {
        const label = `${tag} round ${round}`;
        const bFirst = workload.alternate === true && round % 2 === 0 && workload.b;
        const early = bFirst ? await run(bFirst, connections, profile.durationSec, label) : null;
        const a = await run(workload.a, connections, profile.durationSec, label);
        const b = early ?? (workload.b ? await run(workload.b, connections, profile.durationSec, label) : null);
        const c = workload.c ? await run(workload.c, connections, profile.durationSec, label) : null;
        rounds.push({
          round,
          a,
          b,
          rpsRatio: b ? a.rps / b.rps : Number.NaN,
          p50Ratio: b ? a.p50 / b.p50 : Number.NaN,
          p99Ratio: b ? a.p99 / b.p99 : Number.NaN,
          ...(c ? { c } : {}),
        });
        const paired = b ? ` | ${workload.b?.name} ${describe(b)} | ratio ${(a.rps / b.rps).toFixed(2)}` : '';
        const third = c ? ` | ${workload.c?.name} ${describe(c)} | ratio ${(a.rps / c.rps).toFixed(2)}` : '';
        options.log(`bench: ${tag.padEnd(20)} round ${round}: ${workload.a.name} ${describe(a)}${paired}${third}`);
      }
      series.push({
        workload: workload.id,
        mode,
        connections,
        a: workload.a.name,
        b: workload.b?.name ?? null,
        ...(workload.c ? { c: workload.c.name } : {}),
        rounds,
      });
    }
  }
  return series;
}
