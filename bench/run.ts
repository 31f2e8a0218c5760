/**
 * `npm run bench`: seeds a PostgreSQL database, starts the gateway (production mode) and the baseline
 * as separate processes with the same pool size, checks that they answer the same data, counts the
 * SQL statements per request, then drives both with autocannon in paired rounds (gateway, baseline,
 * gateway, baseline ...) at one connection and at a saturating concurrency, checking sampled answers
 * under load. Writes bench/results/<date>.json and .md. See BENCHMARKS.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkSameAnswers, answers, countStatements, send, statementsOf } from './http.js';
import {
  checkConnected,
  checkTested,
  connectCall,
  connectedId,
  mutationPrerequisites,
  type ProviderFixture,
  startProviderFixture,
  testCall,
} from './mutations.js';
import { runEngineBench } from './engine-bench.js';
import { runScaleBench } from './scale.js';
import { parseOptions } from './options.js';
import { createPostgraphileSchema, withPostgraphile } from './postgraphile.js';
import { withRestList } from './rest-workload.js';
import { startStatementCounter } from './pg-counter.js';
import { watchDatabaseCpu } from './pg-cpu.js';
import { buildGateway, checkoutAndBuild, projectRoot, startServer, waitForWorkers } from './processes.js';
import { mb, type StatementCount, statementsTable, summarize } from './report.js';
import { type Check, measureRounds, type Target, type Timed } from './rounds.js';
import { databaseUrl, dropDatabase, seedDatabase } from './seed.js';
import { checkTargets, gitDescription, machineDescription, markdownReport } from './summary.js';
import { buildReadWorkloads, type Call, firstDifference, type ReadWorkload } from './workloads.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

// PostGraphile v5 wants Node 22's Promise.withResolvers; its process alone gets the preload that adds it.
const POSTGRAPHILE_NODE_ARGS = ['--require', path.join(projectRoot, 'bench/promise-with-resolvers.cjs')];

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), path.join(projectRoot, 'bench/results'));
  if (options.engine) return runEngineBench(options, log);
  if (options.scale) return runScaleBench(options, log);
  const { profile } = options;
  const started = new Date();
  const loadBefore = os.loadavg();
  const cleanups: (() => Promise<unknown>)[] = [];
  const problems: string[] = [];
  const skipped: { workload: string; reason: string }[] = [];
  const wanted = (id: string) => !options.only || options.only.has(id);

  try {
    // --compare REF: REF's gateway, prepared the same way in a worktree of its own.
    const prepared = performance.now();
    const other = options.compare ? await checkoutAndBuild(options.compare, options.fromSource) : null;
    if (other) {
      cleanups.push(() => other.remove());
      const seconds = ((performance.now() - prepared) / 1000).toFixed(1);
      log(`bench: ${other.ref} (${other.commit.slice(0, 12)}) checked out and prepared in ${seconds} s`);
    }

    // --- Seed -----------------------------------------------------------------------------------------
    const { seed } = profile;
    log(
      `bench: ${profile.name} profile; seeding ${seed.organizations} organizations x ${seed.integrationsPerOrganization} integrations ` +
        `x ${seed.checksPerIntegration} checks into ${options.databaseName}`,
    );
    let t = performance.now();
    const { readers, writers } = await seedDatabase(options.serverUrl, options.databaseName, seed);
    if (!options.keepDatabase) cleanups.push(() => dropDatabase(options.serverUrl, options.databaseName));
    const seedSeconds = (performance.now() - t) / 1000;
    log(`bench: seeded in ${seedSeconds.toFixed(1)} s`);

    // The gateway runs as in production: compiled by `npm run build` (or from source with --source).
    t = performance.now();
    const gatewayCommand = options.fromSource ? { script: 'src/main.ts', nodeArgs: [] as string[] } : await buildGateway();
    const gatewayEntry = gatewayCommand.script;
    const gatewayArgs = gatewayCommand.nodeArgs;
    const how = options.fromSource ? ' through tsx' : ` (npm run start:prod; built in ${((performance.now() - t) / 1000).toFixed(1)} s)`;
    log(`bench: gateway runs ${[...gatewayArgs, gatewayEntry].join(' ')}${how}`);
    const missing = mutationPrerequisites();
    const runs = { W4: wanted('W4') && missing.W4.length === 0, W5: wanted('W5') && missing.W5.length === 0 };
    for (const id of ['W4', 'W5'] as const) {
      if (!wanted(id) || runs[id]) continue;
      skipped.push({ workload: id, reason: missing[id].join('; ') });
      log(`bench: skipping ${id}: ${missing[id].join('; ')}`);
    }
    let provider: ProviderFixture | null = null;
    if (runs.W4 || runs.W5) {
      provider = await startProviderFixture();
      cleanups.push(() => (provider as ProviderFixture).close());
    }

    const dbUrl = databaseUrl(options.serverUrl, options.databaseName);
    // PostGraphile, the second reference, answers W1 and W3 from a bench-only schema of views.
    const withReference = options.postgraphile && (wanted('W1') || wanted('W3'));
    if (withReference) await createPostgraphileSchema(dbUrl);
    const encryptionKey = randomBytes(32).toString('base64');
    const pool = String(options.poolSize);
    // Budgets high enough never to refuse the benchmark's load; the rate limiter still does its accounting.
    const gatewayEnv = (url: string) => ({
      NODE_ENV: 'production',
      // One process (production's default is one per core); --workers adds a cluster beside it.
      WEB_CONCURRENCY: '1',
      DATABASE_URL: url,
      DATABASE_POOL_SIZE: pool,
      LOG_LEVEL: 'warn',
      ENCRYPTION_KEY: encryptionKey,
      RATE_LIMIT_API_KEY_POINTS: '1000000000',
      RATE_LIMIT_ORGANIZATION_POINTS: '1000000000',
      RATE_LIMIT_INTEGRATION_TESTS: '1000000',
      ...provider?.env,
    });
    const baselineEnv = (url: string) => ({ NODE_ENV: 'production', DATABASE_URL: url, DATABASE_POOL_SIZE: pool });
    const startPostgraphile = (name: string, url: string) =>
      startServer(name, 'bench/postgraphile-server.ts', baselineEnv(url), POSTGRAPHILE_NODE_ARGS);
    const workloadOptions = { first: 100, checks: 5, nodesPerOrganization: profile.nodesPerOrganization };
    const built = withRestList(buildReadWorkloads(readers, workloadOptions), readers, workloadOptions.first);
    // W1S: W1 with a page of 10, so that the CPU of a row and of a request apart from its rows can be told apart.
    const small = buildReadWorkloads(readers, { ...workloadOptions, first: 10 })
      .filter((w) => w.id === 'W1')
      .map((w): ReadWorkload => ({ ...w, id: 'W1S' }));
    const reads = [...(withReference ? withPostgraphile(built, readers, workloadOptions) : built), ...small].filter((w) => wanted(w.id));
    const token = provider?.fake.issueApiToken('github') ?? '';
    const connects = (withKey: boolean) =>
      writers.map((org, i) => ({ ...connectCall(org, token, i), ...(withKey ? { uniqueHeader: 'idempotency-key' } : {}) }));

    // --- Same data, and statements per request, through the counting proxy -----------------------------
    const server = new URL(options.serverUrl);
    const counter = await startStatementCounter({ host: server.hostname, port: Number(server.port || 5432) });
    const through = (proxy: { port: number }) => {
      const url = new URL(dbUrl);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      return url;
    };
    const proxied = through(counter);
    // The references behind proxies of their own: the counted gateway's background statements (its
    // batched writes of budgets and of keys' last use) land whenever they fall, and must not count as theirs.
    const baselineCounter = await startStatementCounter({ host: server.hostname, port: Number(server.port || 5432) });
    const referenceCounter = withReference
      ? await startStatementCounter({ host: server.hostname, port: Number(server.port || 5432) })
      : null;
    t = performance.now();
    const [countedGateway, countedBaseline, countedPostgraphile] = await Promise.all([
      // Without the background engine: its job queue's polling would land on the counter between requests.
      startServer('gateway (counted)', gatewayEntry, { ...gatewayEnv(proxied.toString()), WORKERS: '0' }, gatewayArgs),
      startServer('baseline (counted)', 'bench/baseline-server.ts', baselineEnv(through(baselineCounter).toString())),
      referenceCounter ? startPostgraphile('PostGraphile (counted)', through(referenceCounter).toString()) : null,
    ]);
    log(`bench: counting instances up in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const expected = new Map<string, unknown[]>();
    const statements: StatementCount[] = [];
    const sampleSql: Record<string, Record<string, string[]>> = {};
    const tested: Call[] = [];
    try {
      for (const workload of reads) {
        expected.set(workload.id, await checkSameAnswers(workload, countedGateway.url, countedBaseline.url, countedPostgraphile?.url));
      }
      if (reads.length) log(`bench: gateway and baseline agree on every answer of ${reads.map((w) => w.id).join(', ')}`);
      const compared = reads.filter((w) => w.postgraphile && countedPostgraphile).map((w) => w.id);
      if (compared.length) log(`bench: PostGraphile agrees with them on every answer of ${compared.join(', ')}`);
      if (runs.W4) {
        // The integrations W4 tests, connected (through the gateway, as W5 does) before the load.
        for (const org of writers) {
          for (let i = 0; i < profile.testedPerOrganization; i += 1) {
            const { status, body } = await send(countedGateway.url, connectCall(org, token, i));
            tested.push(testCall(org, connectedId(status, body)));
          }
        }
      }
      // The first use of a key records it in the background; let those writes land before counting.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const w of reads) {
        const want = expected.get(w.id) as unknown[];
        const ok =
          (side: typeof w.gateway): Check =>
          (index, status, body) =>
            firstDifference(side.normalize(status, body), want[index]);
        const reference =
          w.postgraphile && countedPostgraphile && referenceCounter
            ? { side: w.postgraphile, server: countedPostgraphile, counter: referenceCounter }
            : null;
        // The steady state: each key verified within the cache's lifetime (API_KEY_CACHE_TTL_MS, 5 s), as a
        // dashboard refreshing keeps it. Counting one workload after another takes longer than that, and on
        // a slow hour so may ten requests of one: each request is sent once right before it is counted.
        await answers(w.gateway, countedGateway.url);
        statements.push({
          workload: w.id,
          label: w.title,
          a: 'gateway',
          b: 'baseline',
          aCounts: await countStatements(w.gateway.calls, countedGateway.url, counter, ok(w.gateway), 10, true),
          bCounts: await countStatements(w.baseline.calls, countedBaseline.url, baselineCounter, ok(w.baseline)),
          ...(reference
            ? {
                c: 'PostGraphile',
                cCounts: await countStatements(reference.side.calls, reference.server.url, reference.counter, ok(reference.side)),
              }
            : {}),
        });
        sampleSql[w.title] = {
          gateway: await statementsOf(countedGateway.url, w.gateway.calls[0] as Call, counter),
          baseline: await statementsOf(countedBaseline.url, w.baseline.calls[0] as Call, baselineCounter),
          ...(reference
            ? { PostGraphile: await statementsOf(reference.server.url, reference.side.calls[0] as Call, reference.counter) }
            : {}),
        };
      }
      if (runs.W4) {
        statements.push({
          workload: 'W4',
          label: 'testIntegration against the fake provider',
          a: 'gateway',
          b: null,
          aCounts: await countStatements(tested, countedGateway.url, counter, (_, s, b) => checkTested(s, b)),
          bCounts: null,
        });
      }
      if (runs.W5) {
        // The first use of a key records its last_used_at in the background: not a statement of W5's.
        for (const call of connects(false)) await send(countedGateway.url, call);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const count = (withKey: boolean) =>
          countStatements(connects(withKey), countedGateway.url, counter, (_, s, b) => checkConnected(s, b), 3);
        statements.push({
          workload: 'W5',
          label: 'connectIntegration (API token)',
          a: 'with Idempotency-Key',
          b: 'without',
          aCounts: await count(true),
          bCounts: await count(false),
        });
        sampleSql['connectIntegration (API token)'] = {
          'with Idempotency-Key': await statementsOf(countedGateway.url, connects(true)[0] as Call, counter),
          without: await statementsOf(countedGateway.url, connects(false)[0] as Call, counter),
        };
      }
    } finally {
      await Promise.all([countedGateway.stop(), countedBaseline.stop(), countedPostgraphile?.stop()]);
      await counter.close();
      await baselineCounter.close();
      await referenceCounter?.close();
    }
    log(`\n${statementsTable(statements)}\n`);

    // --- Timed runs -----------------------------------------------------------------------------------
    const [gateway, baseline, postgraphile] = await Promise.all([
      startServer(
        'gateway',
        gatewayEntry,
        gatewayEnv(dbUrl),
        options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, ...gatewayArgs] : gatewayArgs,
      ),
      startServer('baseline', 'bench/baseline-server.ts', baselineEnv(dbUrl)),
      withReference ? startPostgraphile('PostGraphile', dbUrl) : null,
    ]);
    cleanups.push(
      () => gateway.stop(),
      () => baseline.stop(),
      async () => postgraphile?.stop(),
    );
    // --workers N: the same gateway as a cluster of N processes, in rounds of its own against the baseline.
    const cluster = options.workers
      ? await startServer(
          `gateway x${options.workers}`,
          gatewayEntry,
          { ...gatewayEnv(dbUrl), WEB_CONCURRENCY: String(options.workers), METRICS_PUBLIC: 'true' },
          gatewayArgs,
        )
      : null;
    if (cluster) {
      cleanups.push(() => cluster.stop());
      await waitForWorkers(cluster.url, options.workers as number);
      log(`bench: gateway x${options.workers} (WEB_CONCURRENCY=${options.workers}) up beside the single process`);
    }
    const otherName = other ? `gateway@${other.commit.slice(0, 7)}` : '';
    const otherGateway = other ? await startServer(otherName, other.script, gatewayEnv(dbUrl), other.nodeArgs, { cwd: other.root }) : null;
    if (otherGateway) cleanups.push(() => otherGateway.stop());
    const timed: Timed[] = [];
    for (const workload of reads) {
      const want = expected.get(workload.id) as unknown[];
      const reference = workload.postgraphile && postgraphile ? { side: workload.postgraphile, server: postgraphile } : null;
      const [fromGateway, fromBaseline, fromReference] = await Promise.all([
        answers(workload.gateway, gateway.url),
        answers(workload.baseline, baseline.url),
        reference ? answers(reference.side, reference.server.url) : null,
      ]);
      fromGateway.forEach((answer, index) => {
        const difference =
          firstDifference(answer, want[index]) ??
          firstDifference(fromBaseline[index], want[index]) ??
          (fromReference ? firstDifference(fromReference[index], want[index]) : null);
        if (difference) throw new Error(`${workload.id} request ${index}: the timed servers answer differently: ${difference}`);
      });
      timed.push({
        id: workload.id,
        a: {
          name: 'gateway',
          server: () => gateway,
          calls: workload.gateway.calls,
          check: (i, s, b) => firstDifference(workload.gateway.normalize(s, b), want[i]),
        },
        b: {
          name: 'baseline',
          server: () => baseline,
          calls: workload.baseline.calls,
          check: (i, s, b) => firstDifference(workload.baseline.normalize(s, b), want[i]),
        },
        c: reference
          ? {
              name: 'PostGraphile',
              server: () => reference.server,
              calls: reference.side.calls,
              check: (i, s, b) => firstDifference(reference.side.normalize(s, b), want[i]),
            }
          : null,
      });
    }
    if (otherGateway) {
      // The other build answers exactly as this one (the run stops otherwise), then each read workload
      // is measured as this gateway (A) against it (B).
      for (const workload of reads) {
        const want = expected.get(workload.id) as unknown[];
        (await answers(workload.gateway, otherGateway.url)).forEach((answer, index) => {
          const difference = firstDifference(answer, want[index]);
          if (difference) throw new Error(`${workload.id} request ${index}: ${otherName} answers differently: ${difference}`);
        });
      }
      log(`bench: ${otherName} agrees with this gateway on every answer of ${reads.map((w) => w.id).join(', ')}`);
      // Measured first: both builds come to their rounds after the same warm-up, neither having served
      // the other workloads' rounds in between.
      const pairs: Timed[] = [];
      for (const workload of timed) {
        if (workload.b?.name !== 'baseline') continue;
        pairs.push({
          id: `${workload.id} vs ${other?.commit.slice(0, 7)}`,
          a: workload.a,
          b: { ...workload.a, name: otherName, server: () => otherGateway },
          c: null,
          alternate: true,
        });
      }
      timed.unshift(...pairs);
    }
    if (cluster) {
      for (const workload of [...timed]) {
        if (workload.b?.name !== 'baseline') continue;
        if (workload.b?.name !== 'baseline') continue;
        timed.push({
          ...workload,
          id: `${workload.id} x${options.workers}`,
          a: { ...workload.a, name: cluster.name, server: () => cluster },
          c: null,
        });
      }
    }
    if (runs.W4)
      timed.push({
        id: 'W4',
        a: { name: 'gateway', server: () => gateway, calls: tested, check: (_, s, b) => checkTested(s, b) },
        b: null,
      });
    if (runs.W5) {
      const target = (name: string, withKey: boolean): Target => ({
        name,
        server: () => gateway,
        calls: connects(withKey),
        check: (_, s, b) => checkConnected(s, b),
      });
      timed.push({ id: 'W5', a: target('with Idempotency-Key', true), b: target('without', false) });
    }

    const dbCpu = await watchDatabaseCpu(dbUrl, options.databaseName);
    cleanups.push(() => dbCpu.close());
    const databaseCpu = dbCpu.available
      ? { start: () => dbCpu.snapshot(), stop: (token: unknown) => dbCpu.since(token as Map<number, number>) }
      : undefined;
    const memory = { gatewayRss: 0, baselineRss: 0, postgraphileRss: 0 };
    const sampler = setInterval(() => {
      memory.gatewayRss = Math.max(memory.gatewayRss, gateway.memory()?.rss ?? 0);
      memory.baselineRss = Math.max(memory.baselineRss, baseline.memory()?.rss ?? 0);
      memory.postgraphileRss = Math.max(memory.postgraphileRss, postgraphile?.memory()?.rss ?? 0);
    }, 200);
    cleanups.push(async () => clearInterval(sampler));

    const series = await measureRounds(timed, {
      profile,
      ...(databaseCpu ? { databaseCpu } : {}),
      log,
      problem: (line) => problems.push(line),
    });
    clearInterval(sampler);
    const gatewayMemory = gateway.memory();
    const baselineMemory = baseline.memory();
    const postgraphileMemory = postgraphile ? postgraphile.memory() : undefined;

    // --- Report ---------------------------------------------------------------------------------------
    const summaries = series.map(summarize);
    // Rows per answer of W1 and W1S, for the CPU of a row: what the seed gives, not what the queries ask.
    const rowsPerAnswer = (id: string) => {
      const answers = (expected.get(id) ?? []) as { items?: unknown[] }[];
      return answers.length ? answers.reduce((sum, answer) => sum + (answer.items?.length ?? 0), 0) / answers.length : 0;
    };
    const rows = { W1: rowsPerAnswer('W1'), W1S: rowsPerAnswer('W1S') };
    const targets = checkTargets(summaries, statements, skipped, memory.gatewayRss, gatewayMemory?.peak ?? null, rows);
    const finished = new Date();
    const machine = machineDescription(loadBefore);
    const commit = gitDescription();
    const report = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - started.getTime()) / 1000,
      commit,
      profile,
      poolSize: options.poolSize,
      machine,
      seed: { ...seed, seconds: Number(seedSeconds.toFixed(1)) },
      statements,
      sampleSql,
      memory: {
        gatewayLoadMaxRss: memory.gatewayRss,
        gatewayPeakRss: gatewayMemory?.peak ?? null,
        baselineLoadMaxRss: memory.baselineRss,
        baselinePeakRss: baselineMemory?.peak ?? null,
        ...(postgraphile ? { postgraphileLoadMaxRss: memory.postgraphileRss, postgraphilePeakRss: postgraphileMemory?.peak ?? null } : {}),
      },
      summaries,
      targets,
      skipped,
      problems,
      series,
    };
    const markdown = markdownReport({
      started,
      profile,
      commit,
      machine,
      seedSeconds,
      organizations: { readers: readers.length, writers: writers.length },
      poolSize: options.poolSize,
      summaries,
      series,
      statements,
      targets,
      memory: {
        gatewayPeak: gatewayMemory?.peak ?? null,
        gatewayUnderLoad: memory.gatewayRss,
        baselinePeak: baselineMemory?.peak ?? null,
        ...(postgraphileMemory === undefined ? {} : { postgraphilePeak: postgraphileMemory?.peak ?? null }),
      },
      skipped,
      problems,
    });
    log(`\n${markdown}`);
    await mkdir(options.outDir, { recursive: true });
    const stamp = started
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const file = path.join(options.outDir, `${stamp}${profile.name === 'full' ? '' : `-${profile.name}`}`);
    await writeFile(`${file}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${file}.md`, markdown);
    log(
      `bench: wrote ${file}.json and .md in ${report.seconds.toFixed(0)} s ` +
        `(gateway RSS peak ${gatewayMemory ? mb(gatewayMemory.peak) : 'n/a'})`,
    );
    if (problems.length) log(`bench: ${problems.length} problem(s) under load; see above`);
    return problems.length ? 1 : 0;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`bench: cleanup failed: ${String(error)}`));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
