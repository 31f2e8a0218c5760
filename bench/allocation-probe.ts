/**
 * One build of the gateway in this process, driven by a load thread, while V8's sampling heap profiler
 * records every allocation of this thread, those collected since included: bytes allocated per request,
 * and by whom. Started by bench/allocations.ts, once per build and workload; writes the profile to <out.json>.
 * In `gc` mode, instead, no profiler: the collector's pauses during the requests, by kind, from
 * `PerformanceObserver` (what minutes of load cost in collection, which the profiler is too slow to watch).
 *
 * usage: node --import tsx bench/allocation-probe.ts <main.js> <calls.json> <requests> <out.json> [alloc|gc] [concurrency]
 * (the gateway's environment, DATABASE_URL included, comes from the parent)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Call } from './workloads.js';

/**
 * The load thread, evaluated from this text so that it needs no TypeScript loader: its allocations are
 * its own isolate's, outside the profile. It sends `requests` calls, `concurrency` at a time, and fails
 * on any answer but 200.
 */
const DRIVER = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const { port, calls, requests, concurrency } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
let next = 0;
const one = (call) => new Promise((resolve, reject) => {
  const request = http.request({ host: '127.0.0.1', port, path: call.path, method: call.method, agent, headers: call.headers }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(call.path + ' answered ' + res.statusCode))));
  });
  request.on('error', reject);
  request.end(call.body);
});
Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < requests) { const call = calls[next % calls.length]; next += 1; await one(call); }
})).then(() => { agent.destroy(); parentPort.postMessage('done'); }, (error) => parentPort.postMessage(String(error)));
`;

const [entry, callsFile, requestsArg, outFile, mode = 'alloc', concurrencyArg = '8'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string?,
  string?,
];
const concurrency = Number(concurrencyArg);
const calls = JSON.parse(readFileSync(callsFile, 'utf8')) as Call[];
const requests = Number(requestsArg);
await import(entry);
const port = Number(process.env.PORT);
const load = (count: number) =>
  new Promise<void>((resolve, reject) => {
    const worker = new Worker(DRIVER, { eval: true, workerData: { port, calls, requests: count, concurrency } });
    worker.once('message', (message) => (message === 'done' ? resolve() : reject(new Error(String(message)))));
    worker.once('error', reject);
  });
// The gateway answers once it listens; then a warm-up (documents compiled, code optimized) before sampling.
for (let attempt = 0; ; attempt += 1) {
  try {
    await load(1);
    break;
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
await load(Math.max(500, Math.min(requests, 5000)));
if (mode === 'gc') {
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  };
  const pauses: Record<string, { count: number; ms: number }> = {};
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = kinds[(entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      const seen = pauses[kind] ?? { count: 0, ms: 0 };
      pauses[kind] = seen;
      seen.count += 1;
      seen.ms += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  await load(requests);
  const elapsedMs = performance.now() - started;
  // The observer is told asynchronously: the last entries arrive on the next turns.
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  writeFileSync(outFile, JSON.stringify({ requests, elapsedMs, pauses, heap: process.memoryUsage() }));
  process.exit(0);
}
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 1024,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
} as { samplingInterval: number });
await load(requests);
const { profile } = await session.post('HeapProfiler.stopSampling');
writeFileSync(outFile, JSON.stringify({ requests, profile }));
process.exit(0);
