import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// Node loads graphql's CommonJS entry for the libraries; the tests must use that same copy, or
// graphql's instanceof checks fail between two copies of the module.
const graphqlEntry = createRequire(import.meta.url).resolve('graphql');

// Database suites run on the embedded PGlite always, and on PostgreSQL too when a URL is given.
const postgresUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

/**
 * The heavy suites, run by `npm run test:full` (projects `full-*`) rather than `npm test`: they start
 * gateway and CLI processes (each pays tsx and its own database start-up), drive a browser, race
 * processes against each other, or run the bench harness.
 */
const fullSuites = [
  'test/admission-processes.test.ts',
  'test/bench-smoke.test.ts',
  'test/cli.test.ts',
  'test/cluster.test.ts',
  'test/connect.browser.test.ts',
  'test/embedded-socket.test.ts',
  'test/engine-scale.test.ts',
  // These two wait out real intervals (a token's maximum age, a slow listing's claim) for most of a minute.
  'test/engine-refresh-max-age.test.ts',
  'test/engine-sync-claim.test.ts',
  'test/engine-worker-stopped.test.ts',
  // These run the engine's schedules and inventory listings through the job queue for most of a minute each.
  'test/engine-schedule-settings.test.ts',
  'test/engine-sync.test.ts',
  'test/engine-sync-connectors.test.ts',
  // More distinct documents than every per-document cache holds, twice over.
  'test/document-caches.test.ts',
  'test/events-processes.test.ts',
  'test/first-run.test.ts',
  'test/graphiql.browser.test.ts',
  'test/rest-docs.browser.test.ts',
  'test/idempotency-processes.test.ts',
  'test/lifecycle-refresh-lost.test.ts',
  'test/lifecycle-refresh-race.test.ts',
  'test/process.test.ts',
  'test/rate-limit-processes.test.ts',
  'test/secrets-rotate.test.ts',
];

/** Suites that assert on process-wide state (the metrics registry), so need a module graph of their own. */
const isolatedSuites = ['test/observability.test.ts'];

const databaseProjects = (
  prefix: string,
  files: { include: string[]; exclude?: string[]; isolate?: boolean; maxWorkers?: number },
): TestProjectInlineConfiguration[] => {
  const project = (name: string, env: Record<string, string>): TestProjectInlineConfiguration => ({
    extends: true,
    test: { name: `${prefix}${name}`, ...files, exclude: [...configDefaults.exclude, ...(files.exclude ?? [])], env },
  });
  return [
    project('pglite', { TEST_DB: 'pglite' }),
    ...(postgresUrl ? [project('postgres', { TEST_DB: 'postgres', TEST_DATABASE_URL: postgresUrl })] : []),
  ];
};

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Every test file has its own database (a PGlite in memory, or a PostgreSQL database of its own) and
    // ports chosen by the system, so files run side by side. They mostly wait (on PostgreSQL, on sockets),
    // so on two cores three at once finish sooner than the default (one fewer than the cores).
    maxWorkers: Math.max(3, availableParallelism()),
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      // A worker imports the gateway's modules once for all the files it runs, instead of once per file
      // (most of a small file's time); every file still builds its own gateway and database.
      ...databaseProjects('', { include: ['test/**/*.test.ts'], exclude: [...fullSuites, ...isolatedSuites], isolate: false }),
      ...databaseProjects('isolated-', { include: isolatedSuites }),
      // One at a time: each starts processes that want the cores to themselves, and some time them.
      ...databaseProjects('full-', { include: fullSuites, maxWorkers: 1 }),
    ],
  },
});
