import { createRequire } from 'node:module';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// Node loads graphql's CommonJS entry for the libraries; the tests must use that same copy, or
// graphql's instanceof checks fail between two copies of the module.
const graphqlEntry = createRequire(import.meta.url).resolve('graphql');

// Database suites run on the embedded PGlite always, and on PostgreSQL too when a URL is given.
const postgresUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

const databaseProject = (name: string, env: Record<string, string>): TestProjectInlineConfiguration => ({
  extends: true,
  test: { name, include: ['test/**/*.test.ts'], env },
});

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      databaseProject('pglite', { TEST_DB: 'pglite' }),
      ...(postgresUrl ? [databaseProject('postgres', { TEST_DB: 'postgres', TEST_DATABASE_URL: postgresUrl })] : []),
    ],
  },
});
