import type { LoadResult } from './load.js';

export type Mode = 'latency' | 'throughput';

/** One paired round: the gateway's run and the baseline's (or the second variant's) run right after it. */
export interface PairedRound {
  round: number;
  a: LoadResult;
  /** Null for a workload without a counterpart (W4). */
  b: LoadResult | null;
  rpsRatio: number;
  p50Ratio: number;
  p99Ratio: number;
}

export interface Series {
  workload: string;
  mode: Mode;
  connections: number;
  /** What A and B are, e.g. gateway and baseline. */
  a: string;
  b: string | null;
  rounds: PairedRound[];
}

/** Statements per request, one entry per request counted. */
export interface StatementCount {
  workload: string;
  label: string;
  a: string;
  b: string | null;
  aCounts: number[];
  bCounts: number[] | null;
}

export interface Summary {
  workload: string;
  mode: Mode;
  connections: number;
  a: string;
  b: string | null;
  aRps: number;
  bRps: number;
  aP50: number;
  aP99: number;
  bP50: number;
  bP99: number;
  /** Server CPU per request, ms (median of rounds); null when unknown. */
  aCpu: number | null;
  bCpu: number | null;
  /** PostgreSQL CPU per request, ms (median of rounds); null when unknown. */
  aDbCpu: number | null;
  bDbCpu: number | null;
  rpsRatio: { median: number; min: number; max: number };
  p50Ratio: { median: number; min: number; max: number };
  p99Ratio: { median: number; min: number; max: number };
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function spread(values: readonly number[]) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

const ofB = (rounds: readonly PairedRound[], pick: (result: LoadResult) => number | null): number | null => {
  const values = rounds.map((r) => (r.b ? pick(r.b) : null));
  return values.every((v): v is number => v !== null) ? median(values) : null;
};

export function summarize(series: Series): Summary {
  const { rounds } = series;
  return {
    workload: series.workload,
    mode: series.mode,
    connections: series.connections,
    a: series.a,
    b: series.b,
    aRps: median(rounds.map((r) => r.a.rps)),
    bRps: ofB(rounds, (r) => r.rps) ?? Number.NaN,
    aP50: median(rounds.map((r) => r.a.p50)),
    aP99: median(rounds.map((r) => r.a.p99)),
    bP50: ofB(rounds, (r) => r.p50) ?? Number.NaN,
    bP99: ofB(rounds, (r) => r.p99) ?? Number.NaN,
    aCpu: rounds.every((r) => r.a.cpuMsPerRequest !== null) ? median(rounds.map((r) => r.a.cpuMsPerRequest as number)) : null,
    bCpu: ofB(rounds, (r) => r.cpuMsPerRequest),
    aDbCpu: rounds.every((r) => r.a.dbCpuMsPerRequest !== null) ? median(rounds.map((r) => r.a.dbCpuMsPerRequest as number)) : null,
    bDbCpu: ofB(rounds, (r) => r.dbCpuMsPerRequest),
    rpsRatio: spread(rounds.map((r) => r.rpsRatio)),
    p50Ratio: spread(rounds.map((r) => r.p50Ratio)),
    p99Ratio: spread(rounds.map((r) => r.p99Ratio)),
  };
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const ratio = (r: { median: number; min: number; max: number }) => `${fixed(r.median, 2)} (${fixed(r.min, 2)}–${fixed(r.max, 2)})`;

export function markdownTable(summaries: readonly Summary[], statements: readonly StatementCount[]): string {
  const perRequest = (workload: string) => {
    const count = statements.find((s) => s.workload === workload);
    if (!count) return 'n/a';
    const a = median(count.aCounts);
    return count.bCounts ? `${fixed(a, 0)} / ${fixed(median(count.bCounts), 0)}` : fixed(a, 0);
  };
  const lines = [
    '| Workload | Conns | A / B | A req/s | B req/s | req/s A/B (min–max) | A p50 / p99 ms | B p50 / p99 ms | p50 A/B (min–max) | ' +
      'CPU ms/req A / B | DB CPU ms/req A / B | SQL/req A / B |',
    '|---|---:|---|---:|---:|---|---|---|---|---|---|---|',
  ];
  for (const s of summaries) {
    lines.push(
      `| ${s.workload} | ${s.connections} | ${s.a} / ${s.b ?? '–'} | ${fixed(s.aRps, 0)} | ${fixed(s.bRps, 0)} | ${ratio(s.rpsRatio)} | ` +
        `${fixed(s.aP50, 2)} / ${fixed(s.aP99, 2)} | ${fixed(s.bP50, 2)} / ${fixed(s.bP99, 2)} | ${ratio(s.p50Ratio)} | ` +
        `${fixed(s.aCpu ?? Number.NaN, 2)} / ${fixed(s.bCpu ?? Number.NaN, 2)} | ` +
        `${fixed(s.aDbCpu ?? Number.NaN, 2)} / ${fixed(s.bDbCpu ?? Number.NaN, 2)} | ${perRequest(s.workload)} |`,
    );
  }
  return lines.join('\n');
}

export function statementsTable(statements: readonly StatementCount[]): string {
  const lines = ['| Workload | Request | A / B | A statements/request | B statements/request |', '|---|---|---|---:|---:|'];
  const show = (values: readonly number[]) => {
    const min = Math.min(...values);
    const max = Math.max(...values);
    return min === max ? String(min) : `${min}–${max}`;
  };
  for (const s of statements) {
    lines.push(`| ${s.workload} | ${s.label} | ${s.a} / ${s.b ?? '–'} | ${show(s.aCounts)} | ${s.bCounts ? show(s.bCounts) : 'n/a'} |`);
  }
  return lines.join('\n');
}

export function targetsTable(targets: readonly TargetCheck[]): string {
  const lines = ['| Target | Measured | Met |', '|---|---|---|'];
  for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
