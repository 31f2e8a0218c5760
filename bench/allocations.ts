/**
 * `npm run bench:alloc`: bytes the gateway allocates per request of W1 (a page of 100), W1S (of 10) and W3
 * (`node(id)`), collected objects included, and the functions that allocate them. Unlike time, allocation
 * hardly depends on the machine's other load, so a change of a few percent shows, and with `--compare REF`
 * it is measured for another commit's build on the same database too. The garbage collector's share of a
 * list's CPU (BENCHMARKS.md) is what this explains. See BENCHMARKS.md, "Allocations".
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildGateway, checkoutAndBuild, freePort, type OtherBuild, productionCommand, projectRoot } from './processes.js';
import { databaseUrl, dropDatabase, seedDatabase } from './seed.js';
import { buildReadWorkloads, type Call } from './workloads.js';

const USAGE = `usage: npm run bench:alloc -- [--requests N] [--top N] [--compare REF] [--out DIR] [--profiles DIR]
                              [--gc N [--node-flags "FLAGS"]]

  --requests  requests sampled per workload and build, after as many (at least 500) to warm up (default 1000)
  --top       allocating functions listed per workload (default 12)
  --compare   also measure the build of REF (a commit with the same migrations), in a git worktree
  --out       where <date>-alloc.md and .json go (default bench/results)
  --profiles  also keep each sampled profile there, <workload>-<build>.heapprofile (Chrome DevTools opens them)
  --gc        then, without the profiler, N requests of each workload 16 at a time (minutes of load for W1 at
              N=50000): the collector's pauses by kind, per request and per 1,000 requests
  --node-flags  V8 flags added to the builds' own for the --gc runs, e.g. "--max-semi-space-size=32"

  BENCH_DATABASE_URL  PostgreSQL server whose <name>_alloc_<pid> database is created and dropped
                      (default postgres://postgres@127.0.0.1:5432/igw_bench)`;

interface Options {
  requests: number;
  top: number;
  compare: string | null;
  outDir: string;
  profilesDir: string | null;
  gcRequests: number;
  nodeFlags: string[];
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    requests: 1000,
    top: 12,
    compare: null,
    outDir: path.join(projectRoot, 'bench/results'),
    profilesDir: null,
    gcRequests: 0,
    nodeFlags: [],
  };
  for (let i = 0; i < argv.length; i += 1) {
    const name = argv[i];
    const value = argv[i + 1];
    if (name === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (
      value === undefined ||
      !['--requests', '--top', '--compare', '--out', '--profiles', '--gc', '--node-flags'].includes(name as string)
    ) {
      throw new Error(`${name === undefined ? 'missing option' : `unknown option or missing value: ${name}`}\n${USAGE}`);
    }
    i += 1;
    if (name === '--compare') options.compare = value;
    else if (name === '--out') options.outDir = path.resolve(value);
    else if (name === '--profiles') options.profilesDir = path.resolve(value);
    else if (name === '--node-flags') options.nodeFlags = value.split(/\s+/).filter(Boolean);
    else {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1) throw new Error(`${name} must be a positive integer`);
      if (name === '--requests') options.requests = count;
      else if (name === '--gc') options.gcRequests = count;
      else options.top = count;
    }
  }
  return options;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

interface Measured {
  bytesPerRequest: number;
  /** The functions that allocated the most, with their bytes per request. */
  sites: { site: string; bytesPerRequest: number }[];
}

/** Bytes per request in all, and by allocating function (named by package or by file of the build). */
function summarize(head: ProfileNode, requests: number, root: string, top: number): Measured {
  const bySite = new Map<string, number>();
  let total = 0;
  const visit = (node: ProfileNode) => {
    total += node.selfSize;
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url
        .replace(/^file:\/\//, '')
        .replace(`${root}/`, '')
        .replace(/^.*node_modules\//, '')
        .replace(/^dist\//, '');
      const site = `${functionName || '(anonymous)'} ${where || '(native)'}${where ? `:${lineNumber + 1}` : ''}`;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    }
    for (const child of node.children) visit(child);
  };
  visit(head);
  const sites = [...bySite]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([site, bytes]) => ({ site, bytesPerRequest: Math.round(bytes / requests) }));
  return { bytesPerRequest: Math.round(total / requests), sites };
}

/** Runs bench/allocation-probe.ts for one build and one workload. */
/** How a probe runs: allocations sampled (8 requests at a time), or the collector's pauses (16 at a time, as the bench). */
type ProbeMode = { kind: 'alloc' } | { kind: 'gc'; extraNodeFlags: string[] };

async function probe<T>(
  root: string,
  calls: Call[],
  requests: number,
  env: Record<string, string>,
  dir: string,
  mode: ProbeMode,
): Promise<T> {
  const callsFile = path.join(dir, `calls-${randomBytes(4).toString('hex')}.json`);
  await writeFile(callsFile, JSON.stringify(calls));
  const entry = path.join(root, 'dist/src/main.js');
  const outFile = `${callsFile}.profile`;
  // The build's own V8 flags (`npm run start:prod`'s), and for a collector run any given for the experiment.
  const flags = [...productionCommand(root).nodeArgs, ...(mode.kind === 'gc' ? mode.extraNodeFlags : [])];
  const probeArgs = [entry, callsFile, String(requests), outFile, mode.kind, mode.kind === 'gc' ? '16' : '8'];
  const args = [...flags, '--import', 'tsx', path.join(projectRoot, 'bench/allocation-probe.ts'), ...probeArgs];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(await freePort()), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-10_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the allocation probe of ${root} failed (${code}):\n${output}`);
  const written = JSON.parse(await readFile(outFile, 'utf8')) as { profile?: { head: ProfileNode } };
  return (mode.kind === 'alloc' ? written.profile : written) as T;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const server = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/igw_bench');
  const name = `${server.pathname.replace(/^\//, '') || 'igw_bench'}_alloc_${process.pid}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'igw-alloc-'));
  let other: OtherBuild | null = null;
  try {
    other = options.compare ? await checkoutAndBuild(options.compare, false) : null;
    await buildGateway();
    const seeded = await seedDatabase(server.toString(), name, {
      organizations: 4,
      integrationsPerOrganization: 100,
      checksPerIntegration: 2,
      benchmarkedOrganizations: 2,
      mutationOrganizations: 0,
    });
    const env = {
      NODE_ENV: 'production',
      WEB_CONCURRENCY: '1',
      WORKERS: '0',
      DATABASE_URL: databaseUrl(server.toString(), name),
      LOG_LEVEL: 'warn',
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      RATE_LIMIT_API_KEY_POINTS: '1000000000',
      RATE_LIMIT_ORGANIZATION_POINTS: '1000000000',
    };
    const reads = buildReadWorkloads(seeded.readers, { first: 100, checks: 5, nodesPerOrganization: 10 });
    const small = buildReadWorkloads(seeded.readers, { first: 10, checks: 5, nodesPerOrganization: 10 });
    const workloads = [
      { id: 'W1', calls: (reads.find((w) => w.id === 'W1') ?? reads[0])?.gateway.calls ?? [] },
      { id: 'W1S', calls: small.find((w) => w.id === 'W1')?.gateway.calls ?? [] },
      { id: 'W3', calls: reads.find((w) => w.id === 'W3')?.gateway.calls ?? [] },
    ];
    const builds = [
      { label: 'this checkout', root: projectRoot },
      ...(other ? [{ label: `${other.ref} (${other.commit.slice(0, 7)})`, root: other.root }] : []),
    ];
    const results: { workload: string; build: string; measured: Measured }[] = [];
    for (const workload of workloads) {
      for (const build of builds) {
        const profile = await probe<{ head: ProfileNode }>(build.root, workload.calls, options.requests, env, dir, { kind: 'alloc' });
        const measured = summarize(profile.head, options.requests, build.root, options.top);
        if (options.profilesDir) {
          await mkdir(options.profilesDir, { recursive: true });
          const file = `${workload.id}-${build === builds[0] ? 'this' : (other as OtherBuild).commit.slice(0, 7)}.heapprofile`;
          await writeFile(path.join(options.profilesDir, file), JSON.stringify(profile));
        }
        results.push({ workload: workload.id, build: build.label, measured });
        log(`bench:alloc: ${workload.id} ${build.label}: ${kb(measured.bytesPerRequest)} a request`);
      }
    }
    const collections: { workload: string; build: string; requests: number; pauses: Record<string, { count: number; ms: number }> }[] = [];
    for (const workload of options.gcRequests ? workloads : []) {
      for (const build of builds) {
        const mode = { kind: 'gc' as const, extraNodeFlags: options.nodeFlags };
        const run = await probe<{ pauses: Record<string, { count: number; ms: number }> }>(
          build.root,
          workload.calls,
          options.gcRequests,
          env,
          dir,
          mode,
        );
        collections.push({ workload: workload.id, build: build.label, requests: options.gcRequests, pauses: run.pauses });
        const total = Object.values(run.pauses).reduce((sum, p) => sum + p.ms, 0);
        log(`bench:alloc: ${workload.id} ${build.label}: ${(total / options.gcRequests).toFixed(3)} ms of collector pauses a request`);
      }
    }
    const perThousand = (count: number, requests: number) => ((1000 * count) / requests).toFixed(1);
    const perRequest = (ms: number, requests: number) => (ms / requests).toFixed(3);
    const gcLines = collections.length
      ? [
          `## The collector's pauses under load (${options.gcRequests} requests per workload and build, 16 at a time` +
            `${options.nodeFlags.length ? `, with ${options.nodeFlags.join(' ')}` : ''})`,
          '',
          '| Workload | Build | Minor: per 1,000 requests, ms a request | Major | Incremental marking | All: ms a request |',
          '|---|---|---|---|---|---:|',
          ...collections.map(({ workload, build, requests, pauses }) => {
            const of = (kind: string) => {
              const p = pauses[kind] ?? { count: 0, ms: 0 };
              return `${perThousand(p.count, requests)}, ${perRequest(p.ms, requests)}`;
            };
            const all = Object.values(pauses).reduce((sum, p) => sum + p.ms, 0);
            return `| ${workload} | ${build} | ${of('minor')} | ${of('major')} | ${of('incremental')} | ${perRequest(all, requests)} |`;
          }),
          '',
        ]
      : [];
    const lines = [
      `## Allocations per request (${new Date().toISOString()}, ${options.requests} requests sampled per workload and build)`,
      '',
      `| Workload | ${builds.map((b) => b.label).join(' | ')}${other ? ' | this / other' : ''} |`,
      `|---|${builds.map(() => '---:').join('|')}${other ? '|---:' : ''}|`,
      ...workloads.map((workload) => {
        const measured = builds.map((b) => results.find((r) => r.workload === workload.id && r.build === b.label)?.measured);
        const [mine, theirs] = measured;
        const ratio = mine && theirs ? ` | ${(mine.bytesPerRequest / theirs.bytesPerRequest).toFixed(3)}` : '';
        return `| ${workload.id} | ${measured.map((m) => kb(m?.bytesPerRequest ?? 0)).join(' | ')}${ratio} |`;
      }),
      '',
      ...workloads.flatMap((workload) => {
        const mine = results.find((r) => r.workload === workload.id && r.build === 'this checkout')?.measured;
        return [
          `### ${workload.id}, this checkout: where the bytes are allocated`,
          '',
          '| Bytes/request | Function |',
          '|---:|---|',
          ...(mine?.sites ?? []).map((s) => `| ${s.bytesPerRequest} | \`${s.site}\` |`),
          '',
        ];
      }),
    ];
    const markdown = `${[...lines, ...gcLines].join('\n')}\n`;
    log(`\n${markdown}`);
    await mkdir(options.outDir, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const file = path.join(options.outDir, `${stamp}-alloc`);
    await writeFile(`${file}.md`, markdown);
    await writeFile(`${file}.json`, `${JSON.stringify({ requests: options.requests, results, collections }, null, 2)}\n`);
    log(`bench:alloc: wrote ${file}.md and .json`);
    return 0;
  } finally {
    await dropDatabase(server.toString(), name).catch(() => undefined);
    await other?.remove().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:alloc failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
