import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// `node --import=tsx` as `npm start` runs it: one process, so that `child` is the gateway or CLI itself.
const withTsx = ['--import=tsx'];

/** Environment for a child gateway or CLI: the test's database and nothing inherited that could point elsewhere. */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'development', LOG_LEVEL: 'info' };
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `src/cli.ts` as the package's CLI runs it, in a separate process. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...withTsx, 'src/cli.ts', ...args], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningGateway {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /**
   * Kills the gateway with SIGKILL, as a crash would: no shutdown, nothing flushed or rolled back by it.
   * The child is the gateway itself (`node --import=tsx`); processes it started are killed with it.
   */
  crash(): Promise<void>;
}

/** The processes `pid` started; none is not an error (pgrep then exits 1). */
function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Starts `src/main.ts` on a free port and waits until it listens: until `listeners` processes said so
 * (a cluster's workers, with WEB_CONCURRENCY), one by default.
 */
export function startGateway(env: NodeJS.ProcessEnv, listeners = 1): Promise<RunningGateway> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...withTsx, 'src/main.ts'], {
      cwd: projectRoot,
      env: { ...env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let started = false;
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start:\n${output}`));
    }, 30_000 * listeners);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const matches = [...output.matchAll(/"url":"(http:\/\/localhost:\d+)\/graphql","msg":"gateway listening"/g)];
      const match = matches.length >= listeners ? matches[0] : undefined;
      if (match?.[1] && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          output: () => output,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
          crash: async () => {
            // The gateway itself first; then whatever it started (esbuild's service, when tsx had to
            // transform anything), so that nothing of it outlives the crash.
            const children = childrenOf(child.pid);
            child.kill('SIGKILL');
            for (const pid of children) {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                // already gone
              }
            }
            await exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${output}`));
    });
  });
}
