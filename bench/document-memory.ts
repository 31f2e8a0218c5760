/**
 * Resident memory of the production gateway under a stream of distinct GraphQL documents: clients that
 * inline literals (`first: 37`, an alias, a filter's words) send a new document with nearly every request,
 * and every per-document cache (parse, validation, compiled form, cost) must stay within its bound.
 * `npm run bench:memory -- --distinct-documents [--duration S] [--connections N] [--smoke]`
 *
 * Builds and starts the gateway as `npm run start:prod` does (NODE_ENV=production) on a seeded PostgreSQL
 * database (BENCH_DATABASE_URL's server; its own database, dropped at the end), then for each mode, on a
 * fresh process: W1-like list pages as fast as the connections allow, every request a document of its own
 * (`distinct`) or the same one each time (`repeated`), sampling VmRSS every second. Prints start, peak and
 * end RSS, and the slope over the last third of the run (still creeping or flat).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { buildGateway, type ServerProcess, startServer } from './processes.js';
import { databaseUrl, dropDatabase, seedDatabase } from './seed.js';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
};
const smoke = process.argv.includes('--smoke');
const durationS = argument('duration', smoke ? 4 : 150);
const connections = argument('connections', 4);
const MB = 1024 * 1024;

const HEALTH_SUMMARY = 'lastHealthCheck { checkedAt ok latencyMs httpStatus message }';
const LAST_SYNC = 'lastSync { status startedAt finishedAt error }';
const LIST_NODE = `id displayName status health environment provider { key name } ${HEALTH_SUMMARY} ${LAST_SYNC}`;
// Words of the seeded display names (bench/seed.ts), so that filtered pages are not empty.
const WORDS = ['core', 'billing', 'platform', 'mobile', 'web', 'data', 'github', 'jira'];
const STATUSES = ['[ACTIVE]', '[ACTIVE, ERROR]', '[NEEDS_REAUTH, ERROR]', '[ACTIVE, NEEDS_REAUTH]'];

/**
 * The i-th document of the stream: a W1 page with its literals inlined. The alias makes every one distinct;
 * `first`, the filter's word and statuses vary as a client building its queries by hand would vary them.
 */
export function distinctDocument(i: number): string {
  const word = WORDS[i % WORDS.length] as string;
  const statuses = STATUSES[Math.floor(i / WORDS.length) % STATUSES.length] as string;
  const filter = i % 3 === 0 ? `filter: { statuses: ${statuses} }` : `filter: { search: "${word}" }`;
  return `query Page {
  page${i}: integrations(first: ${1 + (i % 100)}, ${filter}) {
    edges { cursor node { ${LIST_NODE} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
}

const REPEATED = distinctDocument(0).replace('page0:', 'page:');

interface Sample {
  t: number;
  rss: number;
}

interface ModeResult {
  mode: 'distinct' | 'repeated';
  requests: number;
  documents: number;
  failures: number;
  seconds: number;
  samples: Sample[];
  heap: HeapSplit | null;
}

interface HeapSplit {
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Least-squares slope of RSS against time, in MB per minute. */
function slope(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((s, x) => s + x.t, 0) / n;
  const mr = samples.reduce((s, x) => s + x.rss, 0) / n;
  const num = samples.reduce((s, x) => s + (x.t - mt) * (x.rss - mr), 0);
  const den = samples.reduce((s, x) => s + (x.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

/** The process's own memory split as prom-client reports it on /metrics (MB), or null when not served. */
async function heapSplit(server: ServerProcess): Promise<HeapSplit | null> {
  const text = await fetch(`${server.url}/metrics`).then(
    (res) => (res.ok ? res.text() : ''),
    () => '',
  );
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / MB;
  if (!text) return null;
  return {
    heapUsed: read('nodejs_heap_size_used_bytes'),
    heapTotal: read('nodejs_heap_size_total_bytes'),
    external: read('nodejs_external_memory_bytes'),
  };
}

async function runMode(
  mode: 'distinct' | 'repeated',
  command: { script: string; nodeArgs: string[] },
  env: Record<string, string>,
  key: string,
): Promise<ModeResult> {
  const server = await startServer('gateway', command.script, env, command.nodeArgs);
  try {
    const samples: Sample[] = [];
    const started = performance.now();
    const sample = () => {
      const memory = server.memory();
      if (!memory) throw new Error('no /proc on this machine: cannot read resident memory');
      samples.push({ t: (performance.now() - started) / 1000, rss: memory.rss / MB });
    };
    sample();
    const timer = setInterval(sample, 1_000);
    let next = 0;
    let failures = 0;
    let firstFailure = '';
    const deadline = started + durationS * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const query = mode === 'distinct' ? distinctDocument(i) : REPEATED;
        const res = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query }),
        });
        const body = await res.text();
        if (res.status !== 200 || body.includes('"errors"')) {
          failures += 1;
          firstFailure ||= `${res.status} ${body.slice(0, 300)}`;
        }
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    clearInterval(timer);
    sample();
    const heap = await heapSplit(server);
    if (failures > 0) process.stderr.write(`bench:memory: ${mode}: ${failures} failed answers, the first: ${firstFailure}\n`);
    return {
      mode,
      requests: next,
      documents: mode === 'distinct' ? next : 1,
      failures,
      seconds: (performance.now() - started) / 1000,
      samples,
      heap,
    };
  } finally {
    await server.stop();
  }
}

export async function runDocumentMemory(): Promise<void> {
  const server = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/igw_bench';
  const name = `${new URL(server).pathname.slice(1) || 'igw_bench'}_memory_${process.pid}`;
  const loadBefore = os.loadavg();
  const shape = smoke
    ? { organizations: 3, integrationsPerOrganization: 20, checksPerIntegration: 2, benchmarkedOrganizations: 1, mutationOrganizations: 0 }
    : {
        organizations: 20,
        integrationsPerOrganization: 100,
        checksPerIntegration: 5,
        benchmarkedOrganizations: 1,
        mutationOrganizations: 0,
      };
  const { readers } = await seedDatabase(server, name, shape);
  let failed = false;
  try {
    const command = await buildGateway();
    const env = {
      NODE_ENV: 'production',
      WEB_CONCURRENCY: '1',
      DATABASE_URL: databaseUrl(server, name),
      DATABASE_POOL_SIZE: '10',
      LOG_LEVEL: 'warn',
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      METRICS_PUBLIC: 'true',
      RATE_LIMIT_API_KEY_POINTS: '1000000000',
      RATE_LIMIT_ORGANIZATION_POINTS: '1000000000',
    };
    const key = (readers[0] as { viewerKey: string }).viewerKey;
    const results: ModeResult[] = [];
    for (const mode of ['distinct', 'repeated'] as const) results.push(await runMode(mode, command, env, key));
    const loadAfter = os.loadavg();
    const fmt = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ');
    process.stdout.write(
      `Gateway as \`npm run start:prod\` (${[...command.nodeArgs, command.script].join(' ')}), NODE_ENV=production, PostgreSQL; ` +
        `${connections} connections, ${durationS} s per mode; VmRSS every second; ` +
        `load average before ${fmt(loadBefore)}, after ${fmt(loadAfter)}.\n\n`,
    );
    process.stdout.write(
      '| Documents | Requests | Distinct documents | req/s | Start RSS (MB) | Peak RSS (MB) | End RSS (MB) | Last third (MB/min) | ' +
        'Heap used / total, external at the end (MB) |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n',
    );
    for (const r of results) {
      const rss = r.samples.map((s) => s.rss);
      const third = r.samples.filter((s) => s.t >= (r.samples.at(-1)?.t ?? 0) * (2 / 3));
      const heap = r.heap ? `${r.heap.heapUsed.toFixed(0)} / ${r.heap.heapTotal.toFixed(0)}, ${r.heap.external.toFixed(0)}` : 'n/a';
      process.stdout.write(
        `| ${r.mode} | ${r.requests} | ${r.documents} | ${(r.requests / r.seconds).toFixed(0)} | ${rss[0]?.toFixed(0)} | ` +
          `${Math.max(...rss).toFixed(0)} | ${rss.at(-1)?.toFixed(0)} | ${slope(third).toFixed(1)} | ${heap} |\n`,
      );
      if (r.failures > 0) failed = true;
    }
  } finally {
    await dropDatabase(server, name);
  }
  if (failed) process.exitCode = 1;
}
