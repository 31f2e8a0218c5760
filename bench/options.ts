import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { SeedShape } from './seed.js';

/** How long and how big a run is. */
export interface Profile {
  name: 'full' | 'quick' | 'smoke';
  seed: SeedShape;
  /** Paired rounds (gateway then baseline) per workload and concurrency. */
  rounds: number;
  /** Seconds of load per measured run. */
  durationSec: number;
  /** Seconds of load per warm-up run, one for each server before the rounds. */
  warmupSec: number;
  /**
   * Seconds of load of each timed workload on each server, at the profile's concurrency, once before
   * anything is measured: the steady state of a server that has been answering for a while, which is
   * what a dashboard's gateway is. The gateway's generated resolvers reach V8's optimizing compiler only
   * after thousands of calls; without this, the first workload's first rounds measure that warm-up.
   */
  serverWarmupSec: number;
  /** Concurrency of the throughput runs; the latency runs use one connection. */
  connections: number;
  /** Every n-th answer under load is checked field by field. */
  sampleEvery: number;
  /** W3 asks for this many integrations of each benchmarked organization. */
  nodesPerOrganization: number;
  /** W4 tests this many integrations of each mutation organization, connected before the load. */
  testedPerOrganization: number;
}

export interface BenchOptions {
  profile: Profile;
  /** Workloads to run (W1, W1R, W2..W5; W1 brings W1R along); all when not given. */
  only: Set<string> | null;
  /** PostgreSQL server; its database name is the one created afresh. */
  serverUrl: string;
  databaseName: string;
  poolSize: number;
  outDir: string;
  keepDatabase: boolean;
  /** Run the gateway from its TypeScript source through tsx instead of the compiled build. */
  fromSource: boolean;
  /** Where the timed gateway writes a V8 CPU profile (`--cpu-prof`) when it stops; none when null. */
  cpuProfileDir: string | null;
  /** The background engine's benchmark (bench/engine-bench.ts) instead of the read and write workloads. */
  engine: boolean;
  /** `--scale`: search, totalCount and keyset pages as an organization grows (bench/scale.ts) instead. */
  scale: boolean;
  /** Integrations `--scale` seeds (one organization gets half). */
  scaleRows: number;
  /**
   * `--workers N`: the timed runs measure the gateway as one process and as a cluster of N
   * (WEB_CONCURRENCY), the latter in the same paired rounds against the same baseline; null: one process only.
   */
  workers: number | null;
  /** PostGraphile as a second reference for W1 and W3 (bench/postgraphile.ts); off with `--no-postgraphile`. */
  postgraphile: boolean;
  /**
   * `--compare REF`: the gateway of another commit (built the same way, in a git worktree of its own) runs
   * beside this one, and each read workload is also measured as this gateway against that one, in paired
   * rounds whose order alternates; null: no comparison.
   */
  compare: string | null;
}

const FULL_SEED: SeedShape = {
  organizations: 100,
  integrationsPerOrganization: 100,
  checksPerIntegration: 20,
  benchmarkedOrganizations: 10,
  mutationOrganizations: 2,
};

const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    seed: FULL_SEED,
    rounds: 3,
    durationSec: 8,
    warmupSec: 2,
    serverWarmupSec: 5,
    connections: 16,
    sampleEvery: 10,
    nodesPerOrganization: 10,
    testedPerOrganization: 10,
  },
  quick: {
    name: 'quick',
    seed: FULL_SEED,
    rounds: 2,
    durationSec: 2,
    warmupSec: 1,
    serverWarmupSec: 1,
    connections: 16,
    sampleEvery: 10,
    nodesPerOrganization: 10,
    testedPerOrganization: 10,
  },
  smoke: {
    name: 'smoke',
    seed: {
      organizations: 3,
      integrationsPerOrganization: 12,
      checksPerIntegration: 6,
      benchmarkedOrganizations: 2,
      mutationOrganizations: 1,
    },
    rounds: 1,
    durationSec: 0.5,
    warmupSec: 0.2,
    serverWarmupSec: 0.2,
    connections: 4,
    sampleEvery: 2,
    nodesPerOrganization: 3,
    testedPerOrganization: 2,
  },
};

export const USAGE = `usage: npm run bench -- [--quick] [--smoke] [--only W1,W1R,W2,...] [--connections N] [--rounds N]
                        [--duration SECONDS] [--pool N] [--out DIR] [--keep-db] [--source]
                        [--cpu-prof DIR] [--engine] [--scale [--scale-rows N]] [--workers N|all]
                        [--no-postgraphile] [--compare REF] [--nodes N]

  --quick        2 paired rounds of 2 s per workload and concurrency (about 2 minutes)
  --smoke        the smallest run: a tiny seed and about a second of load per workload (for tests)
  --only         run only these workloads (W1, W1R, W1S, W2, W3, W4, W5); W1 also runs W1R, the REST list,
                 and W1S, W1 with a page of 10
  --connections  concurrency of the throughput runs (default 16)
  --out          where results/<date>.json and .md go (default bench/results)
  --keep-db      keep the seeded database afterwards
  --source       run the gateway through tsx from src/ instead of building dist/ (npm run build)
  --engine       the background engine instead: probe throughput with one worker process and with two, and W1
                 with the scheduler busy vs idle, in paired rounds (results/<date>-engine.md)
  --scale        search, totalCount and keyset pages as an organization grows: seeds --scale-rows integrations
                 (default 1000000; one organization with half) into a database of its own, dropped afterwards,
                 and times pages one request at a time (results/<date>-scale.md)
  --workers      the timed runs measure the gateway as one process and also as a cluster of N processes
                 (WEB_CONCURRENCY; all: one per core), each against the same baseline
  --no-postgraphile  W1 and W3 without PostGraphile, the second reference (its process, schema and rounds)
  --compare      also measure each read workload as this checkout's gateway against REF's (a commit, branch or
                 tag with the same migrations), built alike in a git worktree and answering from the same
                 database, in paired rounds that alternate which goes first: ratios above 1 favour this checkout
  --nodes        distinct integrations of each organization W3 asks for (default 10, at most the seed's 100):
                 W3 cycles through ten organizations' nodes, so the default is 100 distinct IDs
  --cpu-prof     the timed gateway writes a V8 CPU profile (.cpuprofile) into DIR when it stops;
                 summarize it with: npx tsx bench/profile-summary.ts DIR/<file>.cpuprofile

  BENCH_DATABASE_URL  PostgreSQL server and database name to create afresh
                      (default postgres://postgres@127.0.0.1:5432/igw_bench)`;

/** Every workload the harness knows, in the order it runs them. */
export const WORKLOADS = ['W1', 'W1R', 'W1S', 'W2', 'W3', 'W4', 'W5'] as const;

/** `--only`'s list; W1 brings W1R (the same list over REST) and W1S (a page of 10), and an unknown name is refused. */
function parseOnly(value: string): Set<string> {
  const names = value
    .toUpperCase()
    .split(',')
    .map((w) => w.trim());
  const unknown = names.filter((name) => !(WORKLOADS as readonly string[]).includes(name));
  if (unknown.length) throw new Error(`--only: unknown workload ${unknown.join(', ')}; known: ${WORKLOADS.join(', ')}\n${USAGE}`);
  return new Set(names.includes('W1') ? [...names, 'W1R', 'W1S'] : names);
}

export function parseOptions(argv: readonly string[], defaultOutDir: string): BenchOptions {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}\n${USAGE}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (['quick', 'smoke', 'keep-db', 'source', 'help', 'engine', 'scale', 'no-postgraphile'].includes(name)) flags.set(name, true);
    else if (
      ['only', 'connections', 'rounds', 'duration', 'pool', 'out', 'cpu-prof', 'scale-rows', 'workers', 'compare', 'nodes'].includes(name)
    ) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value\n${USAGE}`);
      flags.set(name, value);
    } else throw new Error(`unknown option --${name}\n${USAGE}`);
  }
  if (flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const base = flags.has('smoke') ? PROFILES.smoke : flags.has('quick') ? PROFILES.quick : PROFILES.full;
  const number = (name: string, fallback: number) => {
    const value = flags.get(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`);
    return parsed;
  };
  const profile: Profile = {
    ...base,
    connections: Math.round(number('connections', base.connections)),
    rounds: Math.round(number('rounds', base.rounds)),
    durationSec: number('duration', base.durationSec),
    nodesPerOrganization: Math.min(base.seed.integrationsPerOrganization, Math.round(number('nodes', base.nodesPerOrganization))),
  };
  const server = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/igw_bench');
  const name = server.pathname.replace(/^\//, '') || 'igw_bench';
  return {
    profile,
    only: typeof flags.get('only') === 'string' ? parseOnly(flags.get('only') as string) : null,
    serverUrl: server.toString(),
    // A smoke run gets its own database, so that it can run beside a real one; so does the engine's.
    databaseName: profile.name === 'smoke' ? `${name}_smoke_${process.pid}` : flags.has('engine') ? `${name}_engine` : name,
    poolSize: Math.round(number('pool', 10)),
    outDir: typeof flags.get('out') === 'string' ? (flags.get('out') as string) : defaultOutDir,
    keepDatabase: flags.has('keep-db'),
    fromSource: flags.has('source'),
    cpuProfileDir: typeof flags.get('cpu-prof') === 'string' ? path.resolve(flags.get('cpu-prof') as string) : null,
    engine: flags.has('engine'),
    scale: flags.has('scale'),
    scaleRows: Math.round(number('scale-rows', 1_000_000)),
    workers: flags.get('workers') === 'all' ? availableParallelism() : flags.has('workers') ? Math.round(number('workers', 1)) : null,
    postgraphile: !flags.has('no-postgraphile'),
    compare: typeof flags.get('compare') === 'string' ? (flags.get('compare') as string) : null,
  };
}
