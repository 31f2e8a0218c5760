import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { answers, send } from './http.js';
import { runLoad } from './load.js';
import { startProviderFixture } from './mutations.js';
import type { BenchOptions } from './options.js';
import { buildGateway, projectRoot, readCpuMs, startServer } from './processes.js';
import { median, type PairedRound, type Series, summarize } from './report.js';
import { databaseUrl, dropDatabase, type SeededOrganization, seedDatabase } from './seed.js';
import { gitDescription, machineDescription } from './summary.js';
import { buildReadWorkloads, firstDifference, graphqlCall } from './workloads.js';

// `npm run bench -- --engine`: the background engine under load. On the seeded database plus integrations
// connected to the fake provider, kept due: every integration whose probe has run is made due again and
// queued under its key, as the sweep queues it, so that the workers never wait for work and no
// integration is queued twice. (1) Probe throughput: integrations probed per second by one worker
// process and by two on the same PostgreSQL, in paired rounds. (2) What a busy scheduler costs the
// reads: W1 against a gateway that serves only (WORKERS=0) while one worker process probes, against the
// same W1 with nothing due (the worker idle), in paired rounds of the same run.

/** Providers the probed integrations are spread over, each with its own per-provider concurrency. */
const PROBED_PROVIDERS = ['github', 'gitlab', 'slack', 'pagerduty'] as const;

const CONNECT = `mutation($input: ConnectIntegrationInput!) {
  connectIntegration(input: $input) { integration { id status } userErrors { code message } } }`;

/** A worker process (`npm run worker`, compiled like the gateway), up once its workers look for jobs. */
async function startWorker(script: string, nodeArgs: readonly string[], env: Record<string, string>) {
  const loadsTsx = script.endsWith('.js') || nodeArgs.includes('--import=tsx');
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...(loadsTsx ? [script] : ['--import', 'tsx', script])], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('worker started')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the worker did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    cpuMs: () => readCpuMs(child.pid as number),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the engine benchmark; writes bench/results/<date>-engine(.md|.json). Returns the exit code. */
export async function runEngineBench(options: BenchOptions, log: (line: string) => void): Promise<number> {
  const { profile } = options;
  const started = new Date();
  const loadBefore = os.loadavg();
  const cleanups: (() => Promise<unknown>)[] = [];
  const problems: string[] = [];
  const probedCount = profile.name === 'smoke' ? 40 : 400;
  // Probe counts are steadier over a longer window than a read workload's.
  const windowSec = Math.max(profile.durationSec * 2, 1);
  try {
    log(`bench: engine mode, ${profile.name} profile; seeding ${options.databaseName}`);
    const { readers, writers } = await seedDatabase(options.serverUrl, options.databaseName, profile.seed);
    if (!options.keepDatabase) cleanups.push(() => dropDatabase(options.serverUrl, options.databaseName));
    const owner = writers[0] as SeededOrganization;
    const provider = await startProviderFixture();
    cleanups.push(() => provider.close());
    const command = options.fromSource ? { script: 'src/main.ts', nodeArgs: [] as string[] } : await buildGateway();
    // `npm run worker`, compiled as start:prod's gateway is (scripts/start-prod.js runs dist/src/main.js).
    const workerScript = options.fromSource ? 'src/worker.ts' : 'dist/src/worker.js';
    const dbUrl = databaseUrl(options.serverUrl, options.databaseName);
    const env = {
      NODE_ENV: 'production',
      // One process each: the set-ups compared here are counted in processes.
      WEB_CONCURRENCY: '1',
      DATABASE_URL: dbUrl,
      DATABASE_POOL_SIZE: String(options.poolSize),
      LOG_LEVEL: 'warn',
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      RATE_LIMIT_API_KEY_POINTS: '1000000000',
      RATE_LIMIT_ORGANIZATION_POINTS: '1000000000',
      ...provider.env,
    };
    // Every integration due again a second after its probe, and no inventory syncs in the way.
    const workerEnv = {
      ...env,
      HEALTH_CHECK_INTERVAL_SECONDS: '1',
      HEALTH_CHECK_MAX_BACKOFF_SECONDS: '1',
      SYNC_INTERVAL_SECONDS: '604800',
    };
    const gateway = await startServer('gateway (WORKERS=0)', command.script, { ...env, WORKERS: '0' }, command.nodeArgs);
    cleanups.push(() => gateway.stop());
    const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
    cleanups.push(() => db.end());

    // --- The probed integrations, connected through the gateway ------------------------------------
    const t = performance.now();
    const connect = async (index: number) => {
      const key = PROBED_PROVIDERS[index % PROBED_PROVIDERS.length] as string;
      const input = {
        provider: key,
        displayName: `Probed ${index}`,
        authKind: 'API_TOKEN',
        credentials: { token: provider.fake.issueApiToken(key) },
      };
      const { status, body } = await send(gateway.url, graphqlCall(owner.editorKey, CONNECT, { input }));
      const result = JSON.parse(body)?.data?.connectIntegration;
      if (status !== 200 || result?.integration?.status !== 'ACTIVE') throw new Error(`connect ${index} failed: ${body.slice(0, 300)}`);
    };
    for (let next = 0; next < probedCount; next += 8)
      await Promise.all(Array.from({ length: Math.min(8, probedCount - next) }, (_, i) => connect(next + i)));
    log(`bench: connected ${probedCount} integrations in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const probesSince = async (since: Date) =>
      Number(
        (
          await db.query('select count(*)::int as n from integration_health_checks where organization_id = $1 and checked_at > $2', [
            owner.id,
            since,
          ])
        ).rows[0].n,
      );
    const dbNow = async () => (await db.query('select now() as now')).rows[0].now as Date;
    /** Probes per second over one window, measured by the checks recorded, after a warm-up. */
    const probeRate = async () => {
      await sleep(2_000);
      const from = await dbNow();
      await sleep(windowSec * 1000);
      const until = await dbNow();
      return (await probesSince(from)) / ((until.getTime() - from.getTime()) / 1000);
    };
    /**
     * Busy: every second, the probed integrations not queued (their probe done) are made due and queued
     * under their keys, as the sweep does; idle: none is due, and what was queued is withdrawn.
     */
    let keepDue: NodeJS.Timeout | undefined;
    /** The requeue in flight, if any: idle waits for it, or it would make everything due again after the withdrawal. */
    let requeuing: Promise<unknown> = Promise.resolve();
    const requeueNow = () =>
      db.query(
        `with due as (
           update integrations i set next_health_check_at = now(), health_checks_paused = false
           where i.organization_id = $1
             and not exists (select 1 from graphile_worker.jobs j where j.key = 'probe:' || i.id::text)
           returning i.id, i.organization_id)
         select count(graphile_worker.add_job('integration.probe',
           json_build_object('organizationId', organization_id, 'integrationId', id), job_key := 'probe:' || id::text,
           max_attempts := 5)) from due`,
        [owner.id],
      );
    const requeue = () => {
      requeuing = requeueNow();
      return requeuing;
    };
    const setBusy = async (busy: boolean) => {
      clearInterval(keepDue);
      keepDue = undefined;
      await requeuing.catch(() => undefined);
      if (busy) {
        await requeue();
        keepDue = setInterval(() => void requeue().catch((error: unknown) => problems.push(`requeue: ${String(error)}`)), 1_000);
        return;
      }
      await db.query(`select graphile_worker.remove_job(key) from graphile_worker.jobs where key like 'probe:%' and locked_at is null`);
      // Paused as a user pauses them: with HEALTH_CHECK_INTERVAL_SECONDS=1 the sweep would find them due again.
      await db.query(
        `update integrations set health_checks_paused = true, next_health_check_at = now() + interval '1 day' where organization_id = $1`,
        [owner.id],
      );
      // The probes already running finish (up to 5 s) before an idle round starts.
      for (let waited = 0; waited < 5_000; waited += 100) {
        const running = await db.query(
          `select count(*)::int as n from graphile_worker.jobs where key like 'probe:%' and locked_at is not null`,
        );
        if (running.rows[0].n === 0) break;
        await sleep(100);
      }
    };
    cleanups.push(async () => clearInterval(keepDue));

    // --- (1) Probe throughput: one worker process, then two -----------------------------------------
    const throughput: { round: number; one: number; two: number; ratio: number }[] = [];
    for (let round = 1; round <= profile.rounds; round += 1) {
      const rates: number[] = [];
      for (const processes of [1, 2]) {
        const workers = await Promise.all(Array.from({ length: processes }, () => startWorker(workerScript, command.nodeArgs, workerEnv)));
        try {
          rates.push(await probeRate());
        } finally {
          await Promise.all(workers.map((worker) => worker.stop()));
        }
      }
      const [one, two] = rates as [number, number];
      throughput.push({ round, one, two, ratio: two / one });
      log(
        `bench: probes round ${round}: 1 process ${one.toFixed(0)}/s | 2 processes ${two.toFixed(0)}/s | ratio ${(two / one).toFixed(2)}`,
      );
    }

    // --- (2) W1 with the scheduler busy vs idle --------------------------------------------------------
    const w1 = buildReadWorkloads(readers, { first: 100, checks: 5, nodesPerOrganization: profile.nodesPerOrganization }).find(
      (workload) => workload.id === 'W1',
    );
    if (!w1) throw new Error('no W1 workload');
    const want = await answers(w1.gateway, gateway.url);
    const worker = await startWorker(workerScript, command.nodeArgs, workerEnv);
    cleanups.push(() => worker.stop());
    const series: Series[] = [];
    const probesDuring: { busy: number[]; idle: number[] } = { busy: [], idle: [] };
    const measure = async (busy: boolean, connections: number, durationSec: number) => {
      await setBusy(busy);
      await sleep(1_000);
      const from = await dbNow();
      const result = await runLoad({
        url: gateway.url,
        calls: w1.gateway.calls,
        connections,
        durationSec,
        sampleEvery: profile.sampleEvery,
        serverCpuMs: () => gateway.cpuMs(),
        verify: (index, status, body) => firstDifference(w1.gateway.normalize(status, body), want[index]),
      });
      const until = await dbNow();
      const rate = (await probesSince(from)) / ((until.getTime() - from.getTime()) / 1000);
      if (durationSec === profile.durationSec) probesDuring[busy ? 'busy' : 'idle'].push(rate);
      // A warm-up may end before a slow answer arrives; a measured round must have answers.
      const measured = durationSec === profile.durationSec;
      if (result.problem || result.non2xx > 0 || result.mismatches > 0 || (measured && result.requests === 0))
        problems.push(
          `W1 ${busy ? 'busy' : 'idle'} c=${connections}: ${result.problem ?? `${result.non2xx} non-2xx, ${result.mismatches} wrong`}`,
        );
      return result;
    };
    for (const [mode, connections] of [
      ['latency', 1],
      ['throughput', profile.connections],
    ] as const) {
      await measure(true, connections, profile.warmupSec);
      await measure(false, connections, profile.warmupSec);
      const rounds: PairedRound[] = [];
      for (let round = 1; round <= profile.rounds; round += 1) {
        const a = await measure(true, connections, profile.durationSec);
        const b = await measure(false, connections, profile.durationSec);
        rounds.push({ round, a, b, rpsRatio: a.rps / b.rps, p50Ratio: a.p50 / b.p50, p99Ratio: a.p99 / b.p99 });
        log(
          `bench: W1 ${mode} c=${connections} round ${round}: busy ${a.rps.toFixed(0)} req/s p99 ${a.p99.toFixed(1)} ms | ` +
            `idle ${b.rps.toFixed(0)} req/s p99 ${b.p99.toFixed(1)} ms | ratio ${(a.rps / b.rps).toFixed(2)}`,
        );
      }
      series.push({ workload: 'W1', mode, connections, a: 'scheduler busy', b: 'scheduler idle', rounds });
    }
    await setBusy(false);

    // --- Report ---------------------------------------------------------------------------------------
    const machine = machineDescription(loadBefore);
    const summaries = series.map(summarize);
    const x = (value: number) => `${value.toFixed(2)}x`;
    const lines = [
      `# Engine benchmark ${started.toISOString()} (${profile.name})`,
      '',
      `Commit ${gitDescription()}; ${machine.cores} × ${machine.cpu}, ${machine.memory}, Node ${machine.node}; ` +
        `load average before ${machine.loadAverageBefore.join(' / ')}, after ${machine.loadAverageAfter.join(' / ')}.`,
      `${probedCount} integrations (API tokens of ${PROBED_PROVIDERS.join(', ')}) on the fake provider, kept due; ` +
        `worker processes with the default WORKER_CONCURRENCY; ${profile.rounds} paired rounds of ${windowSec} s.`,
      '',
      '| round | 1 process (probes/s) | 2 processes (probes/s) | ratio |',
      '|---|---|---|---|',
      ...throughput.map((r) => `| ${r.round} | ${r.one.toFixed(0)} | ${r.two.toFixed(0)} | ${x(r.ratio)} |`),
      `| median | ${median(throughput.map((r) => r.one)).toFixed(0)} | ${median(throughput.map((r) => r.two)).toFixed(0)} | ` +
        `${x(median(throughput.map((r) => r.ratio)))} |`,
      '',
      `W1 (GraphQL, first 100) on a gateway with WORKERS=0, while one worker process probes (busy: ` +
        `${median(probesDuring.busy).toFixed(0)} probes/s) or with nothing due ` +
        `(idle: ${median(probesDuring.idle).toFixed(0)} probes/s):`,
      '',
      '| mode | busy req/s | idle req/s | busy/idle req/s | busy/idle p50 | busy/idle p99 |',
      '|---|---|---|---|---|---|',
      ...summaries.map(
        (s) =>
          `| ${s.mode} c=${s.connections} | ${s.aRps.toFixed(0)} | ${s.bRps.toFixed(0)} | ${x(s.rpsRatio.median)} ` +
          `(${x(s.rpsRatio.min)}–${x(s.rpsRatio.max)}) | ${x(s.p50Ratio.median)} | ${x(s.p99Ratio.median)} |`,
      ),
      ...(problems.length ? ['', 'Problems:', ...problems.map((p) => `- ${p}`)] : []),
      '',
    ];
    const markdown = lines.join('\n');
    log(`\n${markdown}`);
    await mkdir(options.outDir, { recursive: true });
    const stamp = started
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const file = path.join(options.outDir, `${stamp}-engine${profile.name === 'full' ? '' : `-${profile.name}`}`);
    const report = {
      startedAt: started.toISOString(),
      commit: gitDescription(),
      profile,
      machine,
      probedCount,
      throughput,
      probesDuring,
    };
    await writeFile(`${file}.json`, `${JSON.stringify({ ...report, summaries, series, problems }, null, 2)}\n`);
    await writeFile(`${file}.md`, markdown);
    log(`bench: wrote ${file}.json and .md`);
    return problems.length ? 1 : 0;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`bench: cleanup failed: ${String(error)}`));
  }
}
