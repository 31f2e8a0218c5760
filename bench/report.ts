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
  /** The second reference's run right after B's (PostGraphile, W1 and W3). */
  c?: LoadResult;
}

export interface Series {
  workload: string;
  mode: Mode;
  connections: number;
  /** What A and B are, e.g. gateway and baseline. */
  a: string;
  b: string | null;
  /** The second reference, when it ran in every round. */
  c?: string;
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
  /** The second reference's statements per request (PostGraphile, W1 and W3). */
  c?: string;
  cCounts?: number[];
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
  /** The second reference (C), measured in the same rounds right after B. */
  reference?: ReferenceSummary;
}

type Spread = { median: number; min: number; max: number };

/** C's medians over rounds, and its ratios paired round by round: A/C and C/B. */
export interface ReferenceSummary {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  cpu: number | null;
  dbCpu: number | null;
  rpsRatio: Spread;
  p50Ratio: Spread;
  rpsOverB: Spread;
  p50OverB: Spread;
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

function summarizeReference(series: Series): ReferenceSummary | null {
  const rounds = series.rounds.filter((r): r is PairedRound & { c: LoadResult } => r.c !== undefined);
  if (!series.c || rounds.length === 0 || rounds.length !== series.rounds.length) return null;
  const medianOf = (pick: (result: LoadResult) => number | null) => {
    const values = rounds.map((r) => pick(r.c));
    return values.every((v): v is number => v !== null) ? median(values) : null;
  };
  const overB = (pick: (result: LoadResult) => number) => spread(rounds.map((r) => (r.b ? pick(r.c) / pick(r.b) : Number.NaN)));
  return {
    name: series.c,
    rps: median(rounds.map((r) => r.c.rps)),
    p50: median(rounds.map((r) => r.c.p50)),
    p99: median(rounds.map((r) => r.c.p99)),
    cpu: medianOf((r) => r.cpuMsPerRequest),
    dbCpu: medianOf((r) => r.dbCpuMsPerRequest),
    rpsRatio: spread(rounds.map((r) => r.a.rps / r.c.rps)),
    p50Ratio: spread(rounds.map((r) => r.a.p50 / r.c.p50)),
    rpsOverB: overB((r) => r.rps),
    p50OverB: overB((r) => r.p50),
  };
}

export function summarize(series: Series): Summary {
  const { rounds } = series;
  const reference = summarizeReference(series);
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
    ...(reference ? { reference } : {}),
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
  // The second reference's column, beside A/B, when it ran at all.
  const reference = summaries.find((s) => s.reference)?.reference?.name;
  const lines = [
    '| Workload | Conns | A / B | A req/s | B req/s | req/s A/B (min–max) | ' +
      (reference ? `req/s A/${reference} (min–max) | ` : '') +
      'A p50 / p99 ms | B p50 / p99 ms | p50 A/B (min–max) | CPU ms/req A / B | DB CPU ms/req A / B | SQL/req A / B |',
    `|---|---:|---|---:|---:|---|${reference ? '---|' : ''}---|---|---|---|---|---|`,
  ];
  for (const s of summaries) {
    lines.push(
      `| ${s.workload} | ${s.connections} | ${s.a} / ${s.b ?? '–'} | ${fixed(s.aRps, 0)} | ${fixed(s.bRps, 0)} | ${ratio(s.rpsRatio)} | ` +
        (reference ? `${s.reference ? ratio(s.reference.rpsRatio) : '–'} | ` : '') +
        `${fixed(s.aP50, 2)} / ${fixed(s.aP99, 2)} | ${fixed(s.bP50, 2)} / ${fixed(s.bP99, 2)} | ${ratio(s.p50Ratio)} | ` +
        `${fixed(s.aCpu ?? Number.NaN, 2)} / ${fixed(s.bCpu ?? Number.NaN, 2)} | ` +
        `${fixed(s.aDbCpu ?? Number.NaN, 2)} / ${fixed(s.bDbCpu ?? Number.NaN, 2)} | ${perRequest(s.workload)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The rows measured against the second reference (C, PostGraphile): its own numbers, the ratios A/C and
 * C/B paired round by round, and CPU, database CPU and statements of all three. Empty when it did not run.
 */
export function referenceTable(summaries: readonly Summary[], statements: readonly StatementCount[]): string {
  const rows = summaries.filter((s) => s.reference);
  if (rows.length === 0) return '';
  const c = (rows[0] as Summary).reference?.name as string;
  const three = (a: number | null, r: number | null, b: number | null, digits: number) =>
    [a, r, b].map((v) => fixed(v ?? Number.NaN, digits)).join(' / ');
  const lines = [
    `| Workload | Conns | ${c} req/s | ${c} p50 / p99 ms | req/s A/${c} (min–max) | p50 A/${c} (min–max) | ` +
      `req/s ${c}/B (min–max) | p50 ${c}/B (min–max) | CPU ms/req A / ${c} / B | DB CPU ms/req A / ${c} / B | SQL/req A / ${c} / B |`,
    '|---|---:|---:|---|---|---|---|---|---|---|---|',
  ];
  for (const s of rows) {
    const r = s.reference as ReferenceSummary;
    const count = statements.find((x) => x.workload === s.workload);
    const sql = count
      ? three(median(count.aCounts), count.cCounts ? median(count.cCounts) : null, count.bCounts ? median(count.bCounts) : null, 0)
      : 'n/a';
    lines.push(
      `| ${s.workload} | ${s.connections} | ${fixed(r.rps, 0)} | ${fixed(r.p50, 2)} / ${fixed(r.p99, 2)} | ${ratio(r.rpsRatio)} | ` +
        `${ratio(r.p50Ratio)} | ${ratio(r.rpsOverB)} | ${ratio(r.p50OverB)} | ${three(s.aCpu, r.cpu, s.bCpu, 2)} | ` +
        `${three(s.aDbCpu, r.dbCpu, s.bDbCpu, 2)} | ${sql} |`,
    );
  }
  return lines.join('\n');
}

export function statementsTable(statements: readonly StatementCount[]): string {
  const reference = statements.find((s) => s.cCounts)?.c;
  const lines = [
    `| Workload | Request | A / B | A statements/request | B statements/request |${reference ? ` ${reference} statements/request |` : ''}`,
    `|---|---|---|---:|---:|${reference ? '---:|' : ''}`,
  ];
  const show = (values: readonly number[]) => {
    const min = Math.min(...values);
    const max = Math.max(...values);
    return min === max ? String(min) : `${min}–${max}`;
  };
  for (const s of statements) {
    const c = reference ? ` ${s.cCounts ? show(s.cCounts) : '–'} |` : '';
    lines.push(
      `| ${s.workload} | ${s.label} | ${s.a} / ${s.b ?? '–'} | ${show(s.aCounts)} | ${s.bCounts ? show(s.bCounts) : 'n/a'} |${c}`,
    );
  }
  return lines.join('\n');
}

export function targetsTable(targets: readonly TargetCheck[]): string {
  const lines = ['| Target | Measured | Met |', '|---|---|---|'];
  for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
