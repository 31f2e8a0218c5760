/**
 * Resident memory of a gateway on the embedded database once it is ready: started on a new DATA_DIR
 * (the database is created), then started again on the same folder. Runs the commands of package.json:
 * `npm start` (the sources through tsx) and `npm run start:prod` (compiled by `npm run build` first).
 * Usage: npm run bench:memory [-- --rounds N] [-- --settle-ms MS]
 * With `--distinct-documents`: the production gateway on PostgreSQL under a stream of distinct documents
 * instead (bench/document-memory.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runDocumentMemory } from './document-memory.js';
import { buildGateway, packageCommand, startServer } from './processes.js';

if (process.argv.includes('--distinct-documents')) {
  await runDocumentMemory();
  process.exit();
}

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
};
const rounds = argument('rounds', 3);
const settleMs = argument('settle-ms', 2_000);

const MB = 1024 * 1024;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** RSS and its high-water mark (MB) of the gateway `settleMs` after it answered /health. */
async function measure(command: { script: string; nodeArgs: string[] }, dataDir: string): Promise<{ rss: number; peak: number }> {
  const server = await startServer(
    'gateway',
    command.script,
    { DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development' },
    command.nodeArgs,
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const memory = server.memory();
    if (!memory) throw new Error('no /proc on this machine: cannot read resident memory');
    return { rss: memory.rss / MB, peak: memory.peak / MB };
  } finally {
    await server.stop();
  }
}

const commands = { 'npm start': packageCommand('start'), 'npm run start:prod': await buildGateway() };
const results: { command: string; start: string; rss: number[]; peak: number[] }[] = [];
for (const [name, command] of Object.entries(commands)) {
  const fresh = { command: name, start: 'new DATA_DIR', rss: [] as number[], peak: [] as number[] };
  const again = { command: name, start: 'restart', rss: [] as number[], peak: [] as number[] };
  for (let round = 0; round < rounds; round += 1) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-memory-'));
    try {
      for (const row of [fresh, again]) {
        const { rss, peak } = await measure(command, dataDir);
        row.rss.push(rss);
        row.peak.push(peak);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  results.push(fresh, again);
}

process.stdout.write(
  `Gateway process on the embedded database, ${rounds} rounds, ${settleMs} ms after /health answered (median; VmRSS, VmHWM):\n\n`,
);
process.stdout.write('| Command | Start | RSS (MB) | Peak RSS (MB) | All RSS (MB) |\n|---|---|---|---|---|\n');
for (const row of results) {
  const all = row.rss.map((v) => v.toFixed(0)).join(', ');
  process.stdout.write(
    `| \`${row.command}\` | ${row.start} | ${median(row.rss).toFixed(0)} | ${median(row.peak).toFixed(0)} | ${all} |\n`,
  );
}
