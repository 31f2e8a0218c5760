import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import type { Call } from './workloads.js';

export interface LoadOptions {
  url: string;
  calls: readonly Call[];
  connections: number;
  durationSec: number;
  /** Checks an answer; returns what is wrong with it, or null. Called on every `sampleEvery`-th response. */
  verify?: (index: number, status: number, body: string) => string | null;
  sampleEvery: number;
  /** The server's CPU time so far in ms, to report CPU per request (steadier than req/s on a shared machine). */
  serverCpuMs?: () => number | null;
  /** Measures the database's CPU time over the run, in ms. */
  databaseCpu?: { start(): Promise<unknown>; stop(token: unknown): Promise<number | null> };
}

export interface LoadResult {
  connections: number;
  durationSec: number;
  /** 2xx answers. */
  requests: number;
  rps: number;
  /** Latency percentiles in milliseconds, from every answer's own timing (autocannon's histogram rounds to whole ms). */
  p50: number;
  p99: number;
  mean: number;
  /** Server CPU time per answer, in ms (user + system of the server process; null when unknown). */
  cpuMsPerRequest: number | null;
  /** PostgreSQL backends' CPU time per answer, in ms (null when PostgreSQL is not on this machine). */
  dbCpuMsPerRequest: number | null;
  errors: number;
  non2xx: number;
  /** Sampled answers checked against the expected data, and how many differed. */
  sampled: number;
  mismatches: number;
  problem: string | null;
  /** The server's largest resident set while the load ran, in bytes (sampled every 200 ms; null when unknown). */
  serverRssMax?: number | null;
}

export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Drives one server with autocannon for a fixed time, cycling through `calls` on every connection. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 14);
  let count = 0;
  let answered = 0;
  let sampled = 0;
  let mismatches = 0;
  let problem: string | null = null;
  const requests = options.calls.map((call, index) => ({
    method: call.method,
    path: call.path,
    headers: call.headers,
    ...(call.body === undefined ? {} : { body: call.body }),
    ...(call.uniqueHeader
      ? {
          setupRequest: (request: autocannon.Request) => ({
            ...request,
            headers: { ...call.headers, [call.uniqueHeader as string]: randomUUID() },
          }),
        }
      : {}),
    onResponse: (status: number, body: string) => {
      answered += 1;
      if (status < 200 || status > 299) {
        problem ??= `HTTP ${status} on ${call.method} ${call.path}: ${body.slice(0, 300)}`;
        return;
      }
      if (!options.verify || answered % options.sampleEvery !== 0) return;
      sampled += 1;
      let difference: string | null;
      try {
        difference = options.verify(index, status, body);
      } catch (error) {
        difference = (error as Error).message;
      }
      if (difference) {
        mismatches += 1;
        problem ??= `answer differs from the expected data: ${difference}`;
      }
    },
  }));
  const dbToken = await options.databaseCpu?.start();
  const cpuBefore = options.serverCpuMs?.() ?? null;
  const started = process.hrtime.bigint();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url: options.url, connections: options.connections, duration: options.durationSec, requests, timeout: 30 },
      (error: unknown, value: autocannon.Result) => (error ? reject(error) : resolve(value)),
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count] = responseTime;
      count += 1;
    });
  });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = options.serverCpuMs?.() ?? null;
  const dbCpu = options.databaseCpu ? await options.databaseCpu.stop(dbToken) : null;
  const sorted = latencies.slice(0, count).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    connections: options.connections,
    durationSec: result.duration || elapsed,
    requests: result['2xx'],
    rps: result['2xx'] / (result.duration || elapsed),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: count ? sum / count : Number.NaN,
    cpuMsPerRequest: cpuBefore !== null && cpuAfter !== null && count > 0 ? (cpuAfter - cpuBefore) / count : null,
    dbCpuMsPerRequest: dbCpu !== null && count > 0 ? dbCpu / count : null,
    errors: result.errors,
    non2xx: result.non2xx,
    sampled,
    mismatches,
    problem: problem ?? (result.errors > 0 ? `${result.errors} connection errors or timeouts` : null),
  };
}
