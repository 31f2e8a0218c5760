import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseKind } from './support/database.js';
import { projectRoot } from './support/process.js';

/** Runs `npm run bench -- <args>` (or another bench script) against the test server's PostgreSQL; its exit code and output. */
async function runBench(args: readonly string[], script = 'bench/run.ts'): Promise<{ code: number | null; output: string }> {
  const server = new URL(process.env.TEST_DATABASE_URL as string);
  server.pathname = '/igw_bench';
  const run = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BENCH_DATABASE_URL: server.toString() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  run.stdout.on('data', (chunk) => (output += chunk));
  run.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => run.on('close', resolve));
  return { code, output };
}

/** This repository's commits and worktrees, as git reports them. */
function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).trim();
}

// Only that the harness runs end to end: no number it measures is asserted beyond its being there (nothing here is timed).
describe('npm run bench -- --quick --smoke', () => {
  let out: string | undefined;
  afterAll(() => (out ? rm(out, { recursive: true, force: true }) : undefined));

  it('seeds, checks both servers agree, counts statements, loads both and writes its results', async (context) => {
    context.skip(
      testDatabaseKind !== 'postgres',
      'the harness needs a PostgreSQL server to create its database and to compare against; it runs in the postgres project',
    );
    out = await mkdtemp(path.join(os.tmpdir(), 'igw-bench-'));
    const { code, output } = await runBench(['--quick', '--smoke', '--out', out]);
    expect(code, output).toBe(0);

    const files = await readdir(out);
    const json = files.find((file) => file.endsWith('-smoke.json'));
    expect(files.some((file) => file.endsWith('-smoke.md'))).toBe(true);
    const report = JSON.parse(await readFile(path.join(out, json as string), 'utf8'));
    expect(report.problems).toEqual([]);
    const measured = report.summaries.map((s: { workload: string; mode: string }) => `${s.workload} ${s.mode}`);
    for (const workload of ['W1', 'W1R', 'W2', 'W3'])
      expect(measured).toEqual(expect.arrayContaining([`${workload} latency`, `${workload} throughput`]));
    // W4 and W5 are measured once what they need has landed, and otherwise skipped with a reason.
    for (const workload of ['W4', 'W5']) {
      const skipped = report.skipped.find((s: { workload: string }) => s.workload === workload);
      if (skipped) expect(skipped.reason).not.toBe('');
      else expect(measured).toContain(`${workload} latency`);
    }
    for (const workload of ['W1', 'W1R'])
      expect(report.statements.find((s: { workload: string }) => s.workload === workload).aCounts.length).toBeGreaterThan(0);
    // PostGraphile, the second reference, answered W1 and W3 the same (the run fails otherwise) and was measured.
    expect(output).toContain('PostGraphile agrees with them on every answer of W1, W3');
    for (const workload of ['W1', 'W3']) {
      const counted = report.statements.find((s: { workload: string; c?: string }) => s.workload === workload && s.c === 'PostGraphile');
      expect(counted.cCounts.length).toBeGreaterThan(0);
      const rows = report.summaries.filter((s: { workload: string }) => s.workload === workload);
      expect(rows.map((s: { reference?: { name: string } }) => s.reference?.name)).toEqual(['PostGraphile', 'PostGraphile']);
    }
  }, 300_000);

  it('--engine: measures probe throughput with one and two worker processes, and W1 with the scheduler busy and idle', async (context) => {
    context.skip(testDatabaseKind !== 'postgres', 'the harness needs a PostgreSQL server; it runs in the postgres project');
    out ??= await mkdtemp(path.join(os.tmpdir(), 'igw-bench-'));
    const { code, output } = await runBench(['--engine', '--smoke', '--source', '--out', out]);
    expect(code, output).toBe(0);
    const json = (await readdir(out)).find((file) => file.endsWith('-engine-smoke.json'));
    const report = JSON.parse(await readFile(path.join(out, json as string), 'utf8'));
    expect(report.problems).toEqual([]);
    expect(report.throughput).toHaveLength(1);
    // Probes were recorded by both set-ups, and while the scheduler was busy under the reads.
    expect(report.throughput[0].one).toBeGreaterThan(0);
    expect(report.throughput[0].two).toBeGreaterThan(0);
    expect(report.probesDuring.busy.every((rate: number) => rate > 0)).toBe(true);
    expect(report.summaries.map((s: { mode: string }) => s.mode)).toEqual(['latency', 'throughput']);
  }, 300_000);
  it('--scale: seeds a reduced large organization, checks every search page, and shows the index in the plans', async (context) => {
    context.skip(testDatabaseKind !== 'postgres', 'the harness needs a PostgreSQL server; it runs in the postgres project');
    out ??= await mkdtemp(path.join(os.tmpdir(), 'igw-bench-'));
    const { code, output } = await runBench(['--scale', '--scale-rows', '30000', '--smoke', '--source', '--out', out]);
    expect(code, output).toBe(0);
    const json = (await readdir(out)).find((file) => file.endsWith('-scale-smoke.json'));
    const report = JSON.parse(await readFile(path.join(out, json as string), 'utf8'));
    expect(report.problems).toEqual([]);
    const names = report.measured.map((m: { name: string }) => m.name).join('\n');
    for (const part of ['search "quartz"', 'search "zyxwv"', 'totalCount, large organization', 'first page, CREATED_AT'])
      expect(names).toContain(part);
    const rare = report.plans.find((p: { term: string }) => p.term === 'quartz').plan.join('\n');
    expect(rare).toContain('integrations_org_display_name_trgm_idx');
  }, 300_000);
  it('--workers 2: measures the gateway as one process and as a cluster of two, each against the baseline', async (context) => {
    context.skip(testDatabaseKind !== 'postgres', 'the harness needs a PostgreSQL server; it runs in the postgres project');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'igw-bench-workers-'));
    try {
      const { code, output } = await runBench(['--smoke', '--only', 'W3', '--workers', '2', '--source', '--out', dir]);
      expect(code, output).toBe(0);
      const json = (await readdir(dir)).find((file) => file.endsWith('-smoke.json'));
      const report = JSON.parse(await readFile(path.join(dir, json as string), 'utf8'));
      expect(report.problems).toEqual([]);
      const measured = report.summaries.map((s: { workload: string; a: string; b: string }) => `${s.workload}: ${s.a} / ${s.b}`);
      expect(measured).toEqual(expect.arrayContaining(['W3: gateway / baseline', 'W3 x2: gateway x2 / baseline']));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
  it('--compare REF: measures this gateway against the gateway of another commit, checked out and removed again', async (context) => {
    context.skip(testDatabaseKind !== 'postgres', 'the harness needs a PostgreSQL server; it runs in the postgres project');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'igw-bench-compare-'));
    try {
      const commit = git('rev-parse', 'HEAD');
      const args = ['--smoke', '--only', 'W3', '--compare', 'HEAD', '--no-postgraphile', '--source', '--out', dir];
      const { code, output } = await runBench(args);
      expect(code, output).toBe(0);
      expect(output).toContain(`gateway@${commit.slice(0, 7)} agrees with this gateway on every answer of W3`);
      const json = (await readdir(dir)).find((file) => file.endsWith('-smoke.json'));
      const report = JSON.parse(await readFile(path.join(dir, json as string), 'utf8'));
      expect(report.problems).toEqual([]);
      const compared = report.summaries.filter((s: { workload: string }) => s.workload === `W3 vs ${commit.slice(0, 7)}`);
      expect(compared.map((s: { mode: string; a: string; b: string }) => `${s.mode}: ${s.a} / ${s.b}`)).toEqual([
        `latency: gateway / gateway@${commit.slice(0, 7)}`,
        `throughput: gateway / gateway@${commit.slice(0, 7)}`,
      ]);
      for (const row of compared) expect(row.aRps * row.bRps).toBeGreaterThan(0);
      // The other commit's worktree is gone once the run ends.
      expect(git('worktree', 'list', '--porcelain')).not.toContain(`igw-compare-${commit.slice(0, 12)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('--compare: a ref that names no commit is refused before anything runs', async (context) => {
    context.skip(testDatabaseKind !== 'postgres', 'the harness needs a PostgreSQL server; it runs in the postgres project');
    const { code, output } = await runBench(['--smoke', '--compare', 'no-such-ref-anywhere', '--source', '--out', os.tmpdir()]);
    expect(code).toBe(1);
    expect(output).toContain('--compare: no-such-ref-anywhere is not a commit of this repository');
  }, 120_000);

  it('npm run bench:alloc: bytes per request of W1, W1S and W3, the functions allocating them, and --gc pauses', async (context) => {
    context.skip(testDatabaseKind !== 'postgres', 'the harness needs a PostgreSQL server; it runs in the postgres project');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'igw-bench-alloc-'));
    try {
      const { code, output } = await runBench(
        ['--requests', '50', '--gc', '200', '--out', dir, '--profiles', dir],
        'bench/allocations.ts',
      );
      expect(code, output).toBe(0);
      const files = await readdir(dir);
      for (const workload of ['W1', 'W1S', 'W3']) expect(files).toContain(`${workload}-this.heapprofile`);
      const json = files.find((file) => file.endsWith('-alloc.json'));
      const report = JSON.parse(await readFile(path.join(dir, json as string), 'utf8'));
      const bytes = Object.fromEntries(
        report.results.map((r: { workload: string; measured: { bytesPerRequest: number } }) => [r.workload, r.measured.bytesPerRequest]),
      );
      // A page of 100 allocates more than a page of 10, which allocates more than nothing.
      expect(bytes.W1).toBeGreaterThan(bytes.W1S);
      expect(bytes.W1S).toBeGreaterThan(0);
      expect(bytes.W3).toBeGreaterThan(0);
      // The gateway's own functions are among those named (the load thread's allocations are not sampled).
      const sites = report.results.flatMap((r: { measured: { sites: { site: string }[] } }) => r.measured.sites.map((s) => s.site));
      expect(sites.some((site: string) => site.includes('src/'))).toBe(true);
      expect(sites.some((site: string) => site.includes('allocation-probe'))).toBe(false);
      // --gc: 200 requests of W1 allocate far more than V8's young generation holds, so it was collected.
      expect(report.collections.map((c: { workload: string }) => c.workload)).toEqual(['W1', 'W1S', 'W3']);
      expect(report.collections[0].pauses.minor.count).toBeGreaterThan(0);
      expect(await readFile(path.join(dir, (json as string).replace('.json', '.md')), 'utf8')).toContain(
        "## The collector's pauses under load",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
