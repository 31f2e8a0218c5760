import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A server the harness started; `pid` is the server itself, not a wrapper process. */
export interface ServerProcess {
  name: string;
  pid: number;
  url: string;
  /** Resident memory now and its high-water mark, in bytes, from /proc (null where there is no /proc). */
  memory(): { rss: number; peak: number } | null;
  /** CPU time the process has used (user + system), in milliseconds; null where there is no /proc. */
  cpuMs(): number | null;
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function readMemory(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** The processes `pid` started (a cluster's workers), from /proc; none where there is no /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Waits until `count` distinct processes of a cluster answer /metrics (its `gateway_process_info`, served
 * with METRICS_PUBLIC=true): the primary hands connections only to workers that listen, and a worker
 * still starting would take no share of the first measured run.
 */
export async function waitForWorkers(url: string, count: number, timeoutMs = 120_000): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < count) {
    if (Date.now() > deadline) throw new Error(`only ${seen.size} of ${count} workers answered within ${timeoutMs} ms`);
    const text = await fetch(`${url}/metrics`, { headers: { connection: 'close' } }).then(
      (res) => res.text(),
      () => '',
    );
    const pid = /^gateway_process_info\{pid="(\d+)"/m.exec(text)?.[1];
    if (pid) seen.add(pid);
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Linux reports CPU time in clock ticks of 1/100 s on every common configuration (getconf CLK_TCK).
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used, in ms, from /proc; null when it cannot be read. */
export function readCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesized command name; utime and stime are the 14th and 15th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * Starts `node <script>` for compiled JavaScript, or `node --import tsx <script>` for TypeScript (what
 * `tsx <script>` does, minus tsx's wrapper process, so that the pid measured is the server's), and waits
 * until GET /health answers 200.
 */
export async function startServer(
  name: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  const port = await freePort();
  const loadsTsx = script.endsWith('.js') || nodeArgs.includes('--import=tsx');
  const args = [...nodeArgs, ...(loadsTsx ? [script] : ['--import', 'tsx', script])];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) throw new Error(`${name} exited with ${exited} before answering:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /health within ${timeoutMs} ms:\n${output}`);
    }
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pid = child.pid as number;
  return {
    name,
    pid,
    url,
    memory: () => readMemory(pid),
    // A cluster's primary hands connections to its workers: their CPU is the server's too.
    cpuMs: () => {
      const own = readCpuMs(pid);
      return own === null ? null : childrenOf(pid).reduce((sum, worker) => sum + (readCpuMs(worker) ?? 0), own);
    },
    output: () => output,
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * Compiles the gateway as `npm run build` does (`tsc -p tsconfig.build.json` into dist/), so that the
 * gateway is measured as it runs in production: compiled JavaScript, no TypeScript loader in the process.
 */
export async function buildGateway(): Promise<{ script: string; nodeArgs: string[] }> {
  const tsc = path.join(projectRoot, 'node_modules/typescript/bin/tsc');
  const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`npm run build failed (${code}):\n${output}`);
  return productionCommand();
}

/**
 * How production starts the gateway: `npm run start:prod`'s `node <flags> <entry>` from package.json, so
 * that the harness measures exactly that command (its V8 flags included) and the two cannot drift apart.
 */
export function productionCommand(): { script: string; nodeArgs: string[] } {
  const command = packageCommand('start:prod');
  if (!command.script.endsWith('.js')) throw new Error('package.json "start:prod" must run a compiled <script>.js');
  return command;
}

/** The `node [flags] <script>` of a package.json script, e.g. `npm start`'s, to run it without npm. */
export function packageCommand(name: string): { script: string; nodeArgs: string[] } {
  const scripts = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts;
  const [command, ...args] = (scripts[name] ?? '').trim().split(/\s+/);
  const script = args.pop();
  if (command !== 'node' || !script || !/\.(js|ts)$/.test(script) || args.some((arg) => !arg.startsWith('-'))) {
    throw new Error(`package.json "${name}" must be "node [flags] <script>"; it is "${scripts[name]}"`);
  }
  return { script, nodeArgs: args };
}
