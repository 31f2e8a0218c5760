import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_KEY_COMMANDS } from '../src/bootstrap.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { graphiqlOptions } from './support/graphiql-page.js';
import { sendGraphQL } from './support/request.js';
import { childEnv, projectRoot, runCli, startGateway } from './support/process.js';

/** The JSON log lines a process wrote. */
function logLines(output: string): Record<string, any>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

/** The words of a command with its placeholders filled in, as a user types it after `npm run cli --`. */
function cliArguments(command: string, values: Record<string, string>): string[] {
  const words = command.replace(/^npm run cli -- /, '').match(/"[^"]*"|\S+/g) ?? [];
  return words.map((word) => word.replace(/^"(.*)"$/, '$1').replace(/<(\w+)>/g, (_, name: string) => values[name] ?? `<${name}>`));
}

describe('production on an empty database', { timeout: 120_000 }, () => {
  let dataDir: string;
  let database: TestDatabase | null = null;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-first-run-'));
    if (process.env.TEST_DB === 'postgres') database = await createTestDatabase();
    env = childEnv({
      NODE_ENV: 'production',
      // One process, as production runs one per core (test/cluster.test.ts covers several).
      WEB_CONCURRENCY: '1',
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      GRAPHIQL: 'true',
      DATA_DIR: dataDir,
      DATABASE_URL: database?.url ?? undefined,
    });
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('logs the CLI commands that create the first organization and key, and those commands work', async () => {
    const empty = await startGateway(env);
    try {
      const page = await fetch(`${empty.url}/graphql`, { headers: { accept: 'text/html' } });
      const html = await page.text();
      expect(graphiqlOptions(html).headers).toBeUndefined();
      expect(html).not.toMatch(/igw_/);
    } finally {
      expect(await empty.stop()).toBe(0);
    }
    const advice = logLines(empty.output()).filter((line) => line.commands);
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatchObject({ level: 40, commands: FIRST_KEY_COMMANDS });
    expect(advice[0]?.msg).toContain('npm run cli -- orgs create <slug>');
    expect(advice[0]?.msg).toContain('npm run cli -- keys create --org <slug> --role admin');
    expect(empty.output()).not.toMatch(/igw_[0-9a-f]{12}_/);

    const values = { slug: 'acme', name: 'Acme Inc' };
    const [orgsCreate, keysCreate] = FIRST_KEY_COMMANDS.map((command) => cliArguments(command, values));
    expect(orgsCreate).toEqual(['orgs', 'create', 'acme', '--name', 'Acme Inc']);
    const org = await runCli(orgsCreate as string[], env);
    expect(org.code, org.stderr).toBe(0);
    const created = await runCli([...(keysCreate as string[]), '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const { key } = JSON.parse(created.stdout);

    const ready = await startGateway(env);
    try {
      const query = '{ viewer { role organization { slug name } } }';
      const res = await sendGraphQL(ready.url, { key, query, headers: { accept: null } });
      expect(res.body.data.viewer).toEqual({ role: 'ADMIN', organization: { slug: 'acme', name: 'Acme Inc' } });
    } finally {
      expect(await ready.stop()).toBe(0);
    }
    expect(logLines(ready.output()).filter((line) => line.commands)).toEqual([]);
  });
});

describe('npm run start:prod', { timeout: 60_000 }, () => {
  const run = promisify(execFile);
  let project: string;

  beforeAll(async () => {
    // A copy of the package's start command, without the compiled gateway the checkout may hold.
    project = await mkdtemp(path.join(os.tmpdir(), 'igw-start-prod-'));
    await mkdir(path.join(project, 'scripts'));
    await copyFile(path.join(projectRoot, 'package.json'), path.join(project, 'package.json'));
    await copyFile(path.join(projectRoot, 'scripts/start-prod.js'), path.join(project, 'scripts/start-prod.js'));
  });
  afterAll(() => rm(project, { recursive: true, force: true }));

  it('says to build first when there is nothing built, and starts nothing', async () => {
    const failed = await run('npm', ['run', '--silent', 'start:prod'], { cwd: project, env: childEnv({}) }).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect('code' in failed && failed.code).toBe(1);
    expect(failed.stderr).toContain('run npm run build first');
    expect(failed.stdout).toBe('');
  });

  it('runs the built gateway in its own process, with the heap limit', async () => {
    await mkdir(path.join(project, 'dist/src'), { recursive: true });
    await writeFile(
      path.join(project, 'dist/src/main.js'),
      "import v8 from 'node:v8';\n" +
        'process.stdout.write(JSON.stringify({ pid: process.pid, ' +
        'heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) }));\n',
    );
    const { stdout } = await run('npm', ['run', '--silent', 'start:prod'], { cwd: project, env: childEnv({}) });
    const started = JSON.parse(stdout);
    expect(started.heapLimitMb).toBeGreaterThanOrEqual(512);
    expect(started.heapLimitMb).toBeLessThan(700);
  });
});
