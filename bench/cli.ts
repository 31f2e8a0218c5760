/**
 * How long a CLI command takes on the embedded database, from the shell's point of view (process start
 * to exit): while a gateway runs on the same DATA_DIR (the CLI goes through its socket) and with no
 * gateway (the CLI opens the database itself), from the sources (tsx) and compiled (`npm run build`).
 * Usage: npm run bench:cli [-- --runs N] [-- --checkout DIR --only stopped]
 * `--checkout` times the CLI of another checkout of the project (e.g. an earlier commit) on the same data.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildGateway, packageCommand, projectRoot, startServer } from './processes.js';

const option = (name: string) => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
const runs = Number(option('runs') ?? 7);
const checkout = path.resolve(option('checkout') ?? projectRoot);
const only = option('only');

interface Timing {
  label: string;
  ms: number[];
}

/** Runs one CLI command to its end; its wall time in ms. Fails on a non-zero exit. */
function timeCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: checkout, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}

const ways = [
  { name: 'sources (tsx)', args: ['--import=tsx', 'src/cli.ts'] },
  { name: 'compiled', args: ['dist/src/cli.js'] },
];
const commands = [
  ['orgs', 'list'],
  ['keys', 'create', '--org', 'demo', '--role', 'viewer', '--json'],
];

async function timeAll(situation: string, env: NodeJS.ProcessEnv): Promise<Timing[]> {
  const timings: Timing[] = [];
  for (const way of ways) {
    for (const command of commands) {
      const timing = { label: `${situation} | ${way.name} | \`${command.join(' ')}\``, ms: [] as number[] };
      for (let run = 0; run < runs; run += 1) timing.ms.push(await timeCommand([...way.args, ...command], env));
      timings.push(timing);
    }
  }
  return timings;
}

if (checkout === projectRoot) await buildGateway();
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-cli-bench-'));
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'warn' };
const timings: Timing[] = [];
try {
  // The first gateway creates the database and the organization `demo`, so that every command has data.
  const start = packageCommand('start');
  const gateway = await startServer('gateway', start.script, env, start.nodeArgs);
  try {
    if (only !== 'stopped') timings.push(...(await timeAll('gateway running', env)));
  } finally {
    await gateway.stop();
  }
  if (only !== 'running') timings.push(...(await timeAll('no gateway', env)));
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
process.stdout.write(
  `CLI commands on the embedded database, ${runs} runs each, wall time in ms (load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, ${os.cpus().length} CPUs):\n\n`,
);
process.stdout.write('| Situation | CLI | Command | median | min | max |\n|---|---|---|---|---|---|\n');
for (const timing of timings) {
  const ms = sorted(timing.ms);
  const median = (ms[Math.floor(ms.length / 2)] as number).toFixed(0);
  process.stdout.write(
    `| ${timing.label} | ${median} | ${(ms[0] as number).toFixed(0)} | ${(ms[ms.length - 1] as number).toFixed(0)} |\n`,
  );
}
