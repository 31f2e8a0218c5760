import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Profile } from './options.js';
import { projectRoot } from './processes.js';
import {
  markdownTable,
  mb,
  referenceTable,
  type Mode,
  type Series,
  type StatementCount,
  statementsTable,
  type Summary,
  median,
  type TargetCheck,
  targetsTable,
} from './report.js';

export function gitDescription(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no');
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

export function machineDescription(loadBefore: number[]) {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory: mb(os.totalmem()),
    node: process.version,
    loadAverageBefore: loadBefore.map((n) => Number(n.toFixed(2))),
    loadAverageAfter: os.loadavg().map((n) => Number(n.toFixed(2))),
  };
}

const x = (value: number) => `${value.toFixed(2)}x`;

/** The issue's targets, each with what this run measured. */
export function checkTargets(
  summaries: readonly Summary[],
  statements: readonly StatementCount[],
  skipped: readonly { workload: string; reason: string }[],
  gatewayRssUnderLoad: number,
  gatewayPeakRss: number | null,
  rows: { W1: number; W1S: number } = { W1: 100, W1S: 10 },
): TargetCheck[] {
  const find = (workload: string, mode: Mode) => summaries.find((s) => s.workload === workload && s.mode === mode);
  const notRun = (workload: string) => skipped.find((s) => s.workload === workload)?.reason.replace(/^/, 'skipped: ') ?? 'not run';
  const w1t = find('W1', 'throughput');
  const w1l = find('W1', 'latency');
  const w2t = find('W2', 'throughput');
  const w5l = find('W5', 'latency');
  const w1Counts = statements.filter((s) => s.workload === 'W1' || s.workload === 'W1S');
  // A verified key is authenticated from the process's cache (no statement) and, when that lapsed between
  // counts, by one statement: the fewest a request took are the read's own.
  const besidesAuth = w1Counts.map((s) => Math.min(...s.aCounts));
  return [
    {
      target: 'W1 throughput >= 0.5x baseline',
      measured: w1t ? `${x(w1t.rpsRatio.median)} (rounds ${w1t.rpsRatio.min.toFixed(2)}–${w1t.rpsRatio.max.toFixed(2)})` : notRun('W1'),
      met: w1t ? w1t.rpsRatio.median >= 0.5 : null,
    },
    {
      target: 'W1 p50 latency at 1 connection <= 2x baseline',
      measured: w1l ? `${x(w1l.p50Ratio.median)} (${w1l.aP50.toFixed(2)} ms vs ${w1l.bP50.toFixed(2)} ms)` : notRun('W1'),
      met: w1l ? w1l.p50Ratio.median <= 2 : null,
    },
    {
      target: 'W2 throughput >= 0.35x baseline',
      measured: w2t ? `${x(w2t.rpsRatio.median)} (rounds ${w2t.rpsRatio.min.toFixed(2)}–${w2t.rpsRatio.max.toFixed(2)})` : notRun('W2'),
      met: w2t ? w2t.rpsRatio.median >= 0.35 : null,
    },
    {
      target: 'SQL statements per W1 request: at most 2 besides authentication, the same at page size 10 and 100',
      measured: w1Counts.length
        ? `${w1Counts.map((s, i) => `${besidesAuth[i]} (${/first: (\d+)/.exec(s.label)?.[1] ?? '?'} per page)`).join('; ')}, ` +
          'authentication from the cache of verified keys (one more statement when it lapsed)'
        : notRun('W1'),
      met: w1Counts.length ? besidesAuth.every((n) => n <= 2) && new Set(besidesAuth).size === 1 : null,
    },
    {
      target: 'Idempotency-Key adds at most 15% to W5 latency (p50 at 1 connection)',
      measured: w5l
        ? `+${((w5l.p50Ratio.median - 1) * 100).toFixed(0)}% (${w5l.aP50.toFixed(2)} ms with, ${w5l.bP50.toFixed(2)} ms without)`
        : notRun('W5'),
      met: w5l ? w5l.p50Ratio.median <= 1.15 : null,
    },
    ...roundTwoTargets(find, statements, notRun, rows),
    {
      target: 'Gateway RSS under load below 200 MB (taken as 200 MiB)',
      measured:
        `${mb(gatewayRssUnderLoad)} (largest sample under load; ` +
        `high-water mark ${gatewayPeakRss === null ? 'n/a' : mb(gatewayPeakRss)})`,
      met: gatewayRssUnderLoad > 0 ? gatewayRssUnderLoad < 200 * 1024 * 1024 : null,
    },
  ];
}

/**
 * CPU of one row and of a request apart from its rows, in µs, from W1 and W1S (pages of 100 and 10) at 16
 * connections: the difference of their CPU per request over the difference of their rows per answer.
 * Null when the seed gives the two pages too few rows apart (a smoke run) to tell.
 */
export function cpuPerRow(
  big: Summary,
  small: Summary,
  rows: { W1: number; W1S: number },
): { gateway: number; baseline: number | null; fixedGateway: number } | null {
  const apart = rows.W1 - rows.W1S;
  if (!big.aCpu || !small.aCpu || apart < 50) return null;
  const gateway = ((big.aCpu - small.aCpu) / apart) * 1000;
  const baseline = big.bCpu && small.bCpu ? ((big.bCpu - small.bCpu) / apart) * 1000 : null;
  return { gateway, baseline, fixedGateway: small.aCpu * 1000 - rows.W1S * gateway };
}

/** The targets of performance round two (issue 19): ratios to the raw baseline and to PostGraphile, per-row CPU, statements. */
function roundTwoTargets(
  find: (workload: string, mode: Mode) => Summary | undefined,
  statements: readonly StatementCount[],
  notRun: (workload: string) => string,
  rows: { W1: number; W1S: number },
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rounds = (spread: { median: number; min: number; max: number }) =>
    `${x(spread.median)} (rounds ${spread.min.toFixed(2)}–${spread.max.toFixed(2)})`;
  const ratioTarget = (workload: string, mode: Mode, minRaw: number, minReference: number) => {
    const found = find(workload, mode);
    const at = mode === 'throughput' ? `${found?.connections ?? 16} connections` : '1 connection';
    checks.push({
      target: `${workload} at ${at} >= ${minRaw}x raw baseline (throughput)`,
      measured: found ? rounds(found.rpsRatio) : notRun(workload),
      met: found ? found.rpsRatio.median >= minRaw : null,
    });
    checks.push({
      target: `${workload} at ${at} >= ${minReference}x PostGraphile (throughput)`,
      measured: found?.reference ? rounds(found.reference.rpsRatio) : found ? 'PostGraphile not run' : notRun(workload),
      met: found?.reference ? found.reference.rpsRatio.median >= minReference : null,
    });
  };
  ratioTarget('W1', 'throughput', 0.7, 1.3);
  const w1l = find('W1', 'latency');
  checks.push({
    target: 'W1 p50 latency at 1 connection <= 1.5x raw baseline',
    measured: w1l ? `${x(w1l.p50Ratio.median)} (${w1l.aP50.toFixed(2)} ms vs ${w1l.bP50.toFixed(2)} ms)` : notRun('W1'),
    met: w1l ? w1l.p50Ratio.median <= 1.5 : null,
  });
  ratioTarget('W3', 'latency', 0.5, 1.0);
  ratioTarget('W3', 'throughput', 0.5, 1.0);
  return [...checks, ...rowAndStatementTargets(find, statements, notRun, rows)];
}

function rowAndStatementTargets(
  find: (workload: string, mode: Mode) => Summary | undefined,
  statements: readonly StatementCount[],
  notRun: (workload: string) => string,
  rows: { W1: number; W1S: number },
): TargetCheck[] {
  const big = find('W1', 'throughput');
  const small = find('W1S', 'throughput');
  const perRow = big && small ? cpuPerRow(big, small, rows) : null;
  const reads = statements.filter((s) => ['W1', 'W1S', 'W3'].includes(s.workload));
  return [
    {
      target: 'Gateway CPU per row <= 18 µs (W1 against W1S, 16 connections)',
      measured: perRow
        ? `${perRow.gateway.toFixed(1)} µs (baseline ${perRow.baseline === null ? 'n/a' : `${perRow.baseline.toFixed(1)} µs`}); ` +
          `per request apart from rows ${(perRow.fixedGateway / 1000).toFixed(2)} ms`
        : big && small
          ? `not measurable: pages of ${rows.W1} and ${rows.W1S} rows`
          : notRun('W1S'),
      met: perRow ? perRow.gateway <= 18 : null,
    },
    {
      // The median: the process's batched writes (budgets every 250 ms, keys' last use) land on whichever
      // request is being counted when they fall, which the maximum shows.
      target: 'One SQL statement per read request (W1, W3), authentication and rate limit included (median of 10)',
      measured: reads.length
        ? reads.map((s) => `${s.workload} ${median(s.aCounts)} (${Math.min(...s.aCounts)}–${Math.max(...s.aCounts)})`).join('; ')
        : notRun('W1'),
      met: reads.length ? reads.every((s) => median(s.aCounts) === 1) : null,
    },
  ];
}

export interface MarkdownInput {
  started: Date;
  profile: Profile;
  commit: string;
  machine: ReturnType<typeof machineDescription>;
  seedSeconds: number;
  organizations: { readers: number; writers: number };
  poolSize: number;
  summaries: readonly Summary[];
  series: readonly Series[];
  statements: readonly StatementCount[];
  targets: readonly TargetCheck[];
  memory: { gatewayPeak: number | null; gatewayUnderLoad: number; baselinePeak: number | null; postgraphilePeak?: number | null };
  skipped: readonly { workload: string; reason: string }[];
  problems: readonly string[];
}

export function markdownReport(input: MarkdownInput): string {
  const { profile, machine, memory } = input;
  const { seed } = profile;
  const reference = referenceTable(input.summaries, input.statements);
  return [
    `## Benchmark ${input.started.toISOString()} (${profile.name})`,
    '',
    `Commit ${input.commit}; ${machine.cores} × ${machine.cpu}, ${machine.memory}; Node ${machine.node}; ` +
      `load average before ${machine.loadAverageBefore.join(' ')}, after ${machine.loadAverageAfter.join(' ')}.`,
    `Seed: ${seed.organizations} organizations × ${seed.integrationsPerOrganization} integrations × ` +
      `${seed.checksPerIntegration} health checks (${input.seedSeconds.toFixed(1)} s); ` +
      `${input.organizations.readers} organizations read under load, ${input.organizations.writers} written; ` +
      `pool size ${input.poolSize} for every server.`,
    `Each row: ${profile.rounds} paired round(s) of ${profile.durationSec} s (A, then B right after) ` +
      `following ${profile.warmupSec} s of warm-up each ` +
      `(and, before anything, ${profile.serverWarmupSec} s of every workload on every server); ` +
      'medians over rounds; ratios are A/B paired round by round (median, min–max). ' +
      'CPU is the server process, DB CPU the PostgreSQL backends serving the database.',
    '',
    markdownTable(input.summaries, input.statements),
    '',
    ...(reference ? [reference, ''] : []),
    statementsTable(input.statements),
    '',
    targetsTable(input.targets),
    '',
    `Peak RSS: gateway ${memory.gatewayPeak === null ? 'n/a' : mb(memory.gatewayPeak)} ` +
      `(largest sample under load ${mb(memory.gatewayUnderLoad)}), ` +
      `baseline ${memory.baselinePeak === null ? 'n/a' : mb(memory.baselinePeak)}` +
      (memory.postgraphilePeak === undefined
        ? '.'
        : `, PostGraphile ${memory.postgraphilePeak === null ? 'n/a' : mb(memory.postgraphilePeak)}.`),
    ...input.skipped.map((s) => `\nSkipped ${s.workload}: ${s.reason}`),
    ...(input.problems.length ? ['', 'Problems:', ...input.problems.map((p) => `- ${p}`)] : []),
    '',
  ].join('\n');
}
