import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, symlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
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
  { timeoutMs = 60_000, cwd = projectRoot }: { timeoutMs?: number; cwd?: string } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const loadsTsx = script.endsWith('.js') || nodeArgs.includes('--import=tsx');
  const args = [...nodeArgs, ...(loadsTsx ? [script] : ['--import', 'tsx', script])];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd,
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

/** Runs `node <args>` (or another command) in `cwd` and fails with its output when it does not exit 0. */
async function runToEnd(what: string, command: string, args: readonly string[], cwd: string): Promise<string> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${what} failed (${code}):\n${output}`);
  return output;
}

/**
 * Compiles the gateway as `npm run build` does (`tsc -p tsconfig.build.json` into dist/), so that the
 * gateway is measured as it runs in production: compiled JavaScript, no TypeScript loader in the process.
 * `root` is the checkout to build: this one, or another commit's for `--compare`.
 */
export async function buildGateway(root = projectRoot): Promise<{ script: string; nodeArgs: string[] }> {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  await runToEnd('npm run build', process.execPath, [tsc, '-p', 'tsconfig.build.json'], root);
  return productionCommand(root);
}

/**
 * How production starts the gateway: `npm run start:prod`'s `node <flags> <entry>` from package.json, so
 * that the harness measures exactly that command (its V8 flags included) and the two cannot drift apart.
 */
export function productionCommand(root = projectRoot): { script: string; nodeArgs: string[] } {
  const command = packageCommand('start:prod', root);
  if (!command.script.endsWith('.js')) throw new Error('package.json "start:prod" must run a compiled <script>.js');
  return command;
}

/** The `node [flags] <script>` of a package.json script, e.g. `npm start`'s, to run it without npm. */
export function packageCommand(name: string, root = projectRoot): { script: string; nodeArgs: string[] } {
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const [command, ...args] = (scripts[name] ?? '').trim().split(/\s+/);
  const script = args.pop();
  if (command !== 'node' || !script || !/\.(js|ts)$/.test(script) || args.some((arg) => !arg.startsWith('-'))) {
    throw new Error(`package.json "${name}" must be "node [flags] <script>"; it is "${scripts[name]}"`);
  }
  return { script, nodeArgs: args };
}

/** The gateway of another commit, for `--compare`: checked out in a git worktree of its own. */
export interface OtherBuild {
  /** The ref as given, and the commit it names. */
  ref: string;
  commit: string;
  /** The worktree: the server's working directory. */
  root: string;
  script: string;
  nodeArgs: string[];
  /** Removes the worktree (and the build in it). */
  remove(): Promise<void>;
}

/**
 * Checks `ref` out into a temporary git worktree and prepares its gateway as this run prepares its own:
 * compiled (or from source with `fromSource`). Its dependencies are this checkout's when both lockfiles are
 * the same, and installed with `npm ci` otherwise. Both builds answer from one seeded database, so `ref`
 * must have the same migrations as this checkout: refused before anything is built otherwise.
 */
export async function checkoutAndBuild(ref: string, fromSource: boolean): Promise<OtherBuild> {
  const git = (...args: string[]) => runToEnd(`git ${args[0]}`, 'git', args, projectRoot);
  const commit = (await git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`).catch(() => '')).trim();
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`--compare: ${ref} is not a commit of this repository`);
  const sameMigrations = await git('diff', '--quiet', commit, '--', 'migrations').then(
    () => true,
    () => false,
  );
  if (!sameMigrations) {
    throw new Error(
      `--compare: ${ref} has other migrations than this checkout; ` +
        'the two gateways answer from one database, so their schemas must be the same',
    );
  }
  const root = path.join(os.tmpdir(), `igw-compare-${commit.slice(0, 12)}-${process.pid}`);
  await git('worktree', 'add', '--detach', root, commit);
  const remove = async () => {
    await git('worktree', 'remove', '--force', root);
  };
  try {
    const [ours, theirs] = await Promise.all([
      readFile(path.join(projectRoot, 'package-lock.json'), 'utf8'),
      readFile(path.join(root, 'package-lock.json'), 'utf8').catch(() => ''),
    ]);
    if (ours === theirs) await symlink(path.join(projectRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    else await runToEnd(`npm ci at ${ref}`, 'npm', ['ci', '--no-audit', '--no-fund'], root);
    const command = fromSource ? { script: 'src/main.ts', nodeArgs: [] as string[] } : await buildGateway(root);
    return { ref, commit, root, ...command, remove };
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }
}
