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
import { buildGateway, checkoutAndBuild, freePort, type OtherBuild, projectRoot } from './processes.js';
import { databaseUrl, dropDatabase, seedDatabase } from './seed.js';
import { buildReadWorkloads, type Call } from './workloads.js';

const USAGE = `usage: npm run bench:alloc -- [--requests N] [--top N] [--compare REF] [--out DIR] [--profiles DIR]

  --requests  requests sampled per workload and build, after as many (at least 500) to warm up (default 1000)
  --top       allocating functions listed per workload (default 12)
  --compare   also measure the build of REF (a commit with the same migrations), in a git worktree
  --out       where <date>-alloc.md and .json go (default bench/results)
  --profiles  also keep each sampled profile there, <workload>-<build>.heapprofile (Chrome DevTools opens them)

  BENCH_DATABASE_URL  PostgreSQL server whose <name>_alloc_<pid> database is created and dropped
                      (default postgres://postgres@127.0.0.1:5432/igw_bench)`;

interface Options {
  requests: number;
  top: number;
  compare: string | null;
  outDir: string;
  profilesDir: string | null;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { requests: 1000, top: 12, compare: null, outDir: path.join(projectRoot, 'bench/results'), profilesDir: null };
  for (let i = 0; i < argv.length; i += 1) {
    const name = argv[i];
    const value = argv[i + 1];
    if (name === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (value === undefined || !['--requests', '--top', '--compare', '--out', '--profiles'].includes(name as string)) {
      throw new Error(`${name === undefined ? 'missing option' : `unknown option or missing value: ${name}`}\n${USAGE}`);
    }
    i += 1;
    if (name === '--compare') options.compare = value;
    else if (name === '--out') options.outDir = path.resolve(value);
    else if (name === '--profiles') options.profilesDir = path.resolve(value);
    else {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1) throw new Error(`${name} must be a positive integer`);
      if (name === '--requests') options.requests = count;
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
async function probe(
  root: string,
  calls: Call[],
  requests: number,
  env: Record<string, string>,
  dir: string,
): Promise<{ head: ProfileNode }> {
  const callsFile = path.join(dir, `calls-${randomBytes(4).toString('hex')}.json`);
  await writeFile(callsFile, JSON.stringify(calls));
  const entry = path.join(root, 'dist/src/main.js');
  const outFile = `${callsFile}.profile`;
  const args = ['--import', 'tsx', path.join(projectRoot, 'bench/allocation-probe.ts'), entry, callsFile, String(requests), outFile];
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
  return (JSON.parse(await readFile(outFile, 'utf8')) as { profile: { head: ProfileNode } }).profile;
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
        const profile = await probe(build.root, workload.calls, options.requests, env, dir);
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
    const markdown = `${lines.join('\n')}\n`;
    log(`\n${markdown}`);
    await mkdir(options.outDir, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const file = path.join(options.outDir, `${stamp}-alloc`);
    await writeFile(`${file}.md`, markdown);
    await writeFile(`${file}.json`, `${JSON.stringify({ requests: options.requests, results }, null, 2)}\n`);
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
