// Webhook delivery throughput: a burst of events, two worker processes, one receiver that answers at once.
//
//   npm run bench:webhooks                       # 10,000 events, 2 workers
//   npm run bench:webhooks -- --events 2000 --workers 1 --subjects 50
//
// Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/igw_bench; the database
// `<name>_webhooks` is created afresh and dropped at the end). The workers run `src/worker.ts` as
// `npm run worker` does. The clock starts with the first event written and stops when the receiver has
// verified the last one with the `standardwebhooks` reference verifier.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { encodeGlobalID } from '../src/ids.js';
import { newEventId } from '../src/modules/events/event.repository.js';
import { generateSigningSecret, sealEndpointSecrets } from '../src/modules/webhook/webhook-secrets.js';
import { decodeKey, KeyRing, SecretVault } from '../src/secrets/index.js';
import { projectRoot } from './processes.js';
import { databaseUrl, dropDatabase } from './seed.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '2' },
    subjects: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4' },
    'keep-db': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const WORKERS = Number(values.workers);
const SUBJECTS = Number(values.subjects);
const server = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/igw_bench';
const name = `${new URL(server).pathname.slice(1) || 'igw_bench'}_webhooks`;

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(server, 'postgres') });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function startWorker(env: Record<string, string>): { child: ChildProcess; started: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['--import=tsx', 'src/worker.ts'], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const started = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes('worker started')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`a worker exited (${code}): ${output}`)));
  });
  return { child, started, output: () => output };
}

async function main(): Promise<void> {
  await dropDatabase(server, name);
  await admin(`create database "${name}"`);
  const url = databaseUrl(server, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const workers: ReturnType<typeof startWorker>[] = [];
  const receiver = createServer();
  try {
    await migrateToLatest(db);
    const organization = await db
      .insertInto('organizations')
      .values({ slug: 'bench-webhooks', name: 'Webhook bench' })
      .returning('id')
      .executeTakeFirstOrThrow();

    // The receiver: verifies every message with the reference library, then answers 204 at once.
    const secret = generateSigningSecret();
    const verifier = new Webhook(secret);
    const seen = new Map<string, number>();
    let deliveries = 0;
    let unverified = 0;
    let lastAt = 0;
    const order = new Map<string, number[]>();
    receiver.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        try {
          const payload = verifier.verify(body, request.headers as Record<string, string>) as {
            id: string;
            subject: string;
            data: { n: number };
          };
          deliveries += 1;
          if (!seen.has(payload.id)) {
            seen.set(payload.id, Date.now());
            order.set(payload.subject, [...(order.get(payload.subject) ?? []), payload.data.n]);
            lastAt = Date.now();
          }
        } catch {
          unverified += 1;
        }
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;

    const key = randomBytes(32).toString('base64');
    const vault = new SecretVault(new KeyRing(decodeKey(key) as Buffer));
    const endpointId = randomUUID();
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: endpointId,
        organization_id: organization.id,
        url: `http://127.0.0.1:${port}/hooks`,
        event_types: ['*'],
        ...sealEndpointSecrets(
          { vault },
          { organization_id: organization.id, id: endpointId, secret_version: 0 },
          { current: secret, previous: null },
        ),
      })
      .execute();

    const env = {
      DATABASE_URL: url,
      ENCRYPTION_KEY: key,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: values.concurrency as string,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      HEALTH_CHECK_INTERVAL_SECONDS: '86400',
    };
    for (let i = 0; i < WORKERS; i += 1) workers.push(startWorker({ ...env, LOG_LEVEL: 'debug' }));
    await Promise.all(workers.map((worker) => worker.started));

    // The burst: events about SUBJECTS integrations, written as appendEvent writes them, 1,000 rows to a statement.
    const subjects = Array.from({ length: SUBJECTS }, () => randomUUID());
    const started = Date.now();
    for (let start = 0; start < EVENTS; start += 1_000) {
      const rows = [];
      for (let n = start; n < Math.min(start + 1_000, EVENTS); n += 1) {
        const subject = subjects[n % SUBJECTS] as string;
        rows.push({
          id: newEventId(),
          organization_id: organization.id,
          type: 'integration.needs_reauth',
          subject_id: encodeGlobalID('Integration', subject),
          integration_id: subject,
          actor_kind: 'SCHEDULER',
          actor_label: 'scheduler',
          data: JSON.stringify({ reason: 'bench', n }),
        });
      }
      await db.insertInto('events').values(rows).execute();
    }
    const appended = Date.now() - started;
    const deadline = started + 300_000;
    while (seen.size < EVENTS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const elapsed = (lastAt || Date.now()) - started;
    let inOrder = true;
    for (const sequence of order.values())
      for (let i = 1; i < sequence.length; i += 1) if ((sequence[i] as number) < (sequence[i - 1] as number)) inOrder = false;
    // The last round's attempts are recorded just after its answers.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const attempts = await db
      .selectFrom('webhook_delivery_attempts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const result = {
      events: EVENTS,
      workers: WORKERS,
      workerConcurrency: Number(values.concurrency),
      subjects: SUBJECTS,
      appendedMs: appended,
      deliveredMs: elapsed,
      eventsPerSecond: Math.round((seen.size / elapsed) * 1000),
      received: seen.size,
      requests: deliveries,
      duplicates: deliveries - seen.size,
      unverified,
      attemptsRecorded: Number(attempts.n),
      inOrderPerSubject: inOrder,
    };
    console.log(JSON.stringify(result, null, 2));
    // A run over the target keeps the workers' logs (debug level) and its result, to say where the time went.
    if (elapsed > 60_000 || seen.size < EVENTS) {
      const folder = join(projectRoot, 'bench', 'results', `webhooks-slow-${new Date().toISOString().replaceAll(':', '-')}`);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      for (const [i, worker] of workers.entries()) writeFileSync(join(folder, `worker-${i}.log`), worker.output());
      console.log(`slower than a minute: the workers' logs are in ${folder}`);
    }
    if (seen.size < EVENTS || unverified > 0 || !inOrder) process.exitCode = 1;
  } finally {
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(
      workers.map(
        (worker) => new Promise((resolve) => (worker.child.exitCode !== null ? resolve(null) : worker.child.once('exit', resolve))),
      ),
    );
    receiver.close();
    await db.destroy();
    if (!values['keep-db']) await dropDatabase(server, name);
  }
}

await main();
