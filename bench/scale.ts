/**
 * `npm run bench -- --scale`: what a page costs as an organization grows. Seeds `--scale-rows`
 * integrations (1,000,000 by default; one organization with half of them) in a database of its own,
 * starts the gateway, and times, one request at a time: a page with `filter: {search}` at several
 * selectivities, `totalCount` of the large organization, and keyset pages of the large organization
 * against a small one (1,000). Every answer is checked against SQL; the search statements' plans
 * (EXPLAIN ANALYZE of the SQL the gateway's repository runs) show whether the trigram index is used.
 * Writes results/<date>-scale.json and .md.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/db/database.js';
import { listIntegrationPage } from '../src/modules/integration/integration-list.repository.js';
import { percentile } from './load.js';
import type { BenchOptions } from './options.js';
import { buildGateway, startServer } from './processes.js';
import { searchTerms, seedScaleDatabase } from './scale-seed.js';
import { databaseUrl, dropDatabase } from './seed.js';
import { gitDescription, machineDescription } from './summary.js';

interface Measured {
  name: string;
  /** Matching rows, where it says. */
  rows: number | null;
  p50: number;
  p90: number;
  samples: number;
  /** The target this measurement is held to, and whether it is met. */
  target: string | null;
  met: boolean | null;
}

const PAGE = `query Page($first: Int!, $after: String, $filter: IntegrationFilter, $orderBy: IntegrationOrder) {
  integrations(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    edges { cursor node { id displayName } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const COUNT = `query Count($filter: IntegrationFilter) { integrations(first: 1, filter: $filter) { totalCount } }`;

async function ask(url: string, key: string, query: string, variables: Record<string, unknown>) {
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: { integrations: Record<string, unknown> }; errors?: unknown };
  const ms = performance.now() - started;
  if (response.status !== 200 || body.errors || !body.data)
    throw new Error(`HTTP ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return { ms, integrations: body.data.integrations };
}

/** Times `samples` sequential calls after `warmup` untimed ones; each call checks its own answer. */
async function time(samples: number, call: () => Promise<{ ms: number }>, warmup = 3): Promise<{ p50: number; p90: number }> {
  for (let i = 0; i < warmup; i += 1) await call();
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i += 1) times[i] = (await call()).ms;
  times.sort();
  return { p50: percentile(times, 0.5), p90: percentile(times, 0.9) };
}

export async function runScaleBench(options: BenchOptions, log: (line: string) => void): Promise<number> {
  const started = new Date();
  const loadBefore = os.loadavg();
  const name = `${options.databaseName}_scale`;
  const samples = options.profile.name === 'smoke' ? 5 : options.profile.name === 'quick' ? 15 : 40;
  const cleanups: (() => Promise<unknown>)[] = [];
  const problems: string[] = [];
  try {
    log(`bench --scale: seeding ${options.scaleRows} integrations into ${name}`);
    let t = performance.now();
    const seeded = await seedScaleDatabase(options.serverUrl, name, options.scaleRows);
    if (!options.keepDatabase) cleanups.push(() => dropDatabase(options.serverUrl, name));
    const seedSeconds = (performance.now() - t) / 1000;
    log(
      `bench --scale: seeded ${seeded.total} integrations in ${seeded.organizations} organizations in ${seedSeconds.toFixed(1)} s ` +
        `(large: ${seeded.large.rows} visible, small: ${seeded.small.rows})`,
    );
    const url = databaseUrl(options.serverUrl, name);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const captured: CompiledQuery[] = [];
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        if (event.level === 'query') captured.push(event.query);
      },
    });
    cleanups.push(() => db.destroy());

    t = performance.now();
    const command = options.fromSource ? { script: 'src/main.ts', nodeArgs: [] as string[] } : await buildGateway();
    const gateway = await startServer(
      'gateway',
      command.script,
      {
        NODE_ENV: 'production',
        DATABASE_URL: url,
        DATABASE_POOL_SIZE: String(options.poolSize),
        LOG_LEVEL: 'warn',
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        RATE_LIMIT_API_KEY_POINTS: '1000000000',
        RATE_LIMIT_ORGANIZATION_POINTS: '1000000000',
        WEB_CONCURRENCY: '1',
      },
      command.nodeArgs,
    );
    cleanups.push(() => gateway.stop());
    log(`bench --scale: gateway up in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const measured: Measured[] = [];
    const plans: { term: string; plan: string[] }[] = [];
    const large = seeded.large;

    // --- Search at several selectivities -----------------------------------------------------------
    for (const { label, term } of searchTerms(options.scaleRows - Math.ceil(options.scaleRows / 2))) {
      const matches = Number(
        (
          await db.executeQuery<{ n: string }>(
            CompiledQuery.raw(
              `select count(*) as n from integrations where organization_id = $1 and status <> 'REVOKED' and display_name ilike $2`,
              [large.id, `%${term}%`],
            ),
          )
        ).rows[0]?.n,
      );
      const expectedPage = Math.min(20, matches);
      const result = await time(samples, async () => {
        const answer = await ask(gateway.url, large.key, PAGE, { first: 20, filter: { search: term } });
        const edges = answer.integrations.edges as { node: { displayName: string } }[];
        if (edges.length !== expectedPage || edges.some((edge) => !edge.node.displayName.toLowerCase().includes(term.toLowerCase())))
          throw new Error(`search ${term}: ${edges.length} rows where ${expectedPage} were expected, or a row that does not match`);
        return answer;
      });
      measured.push({
        name: `search "${term}", ${label}`,
        rows: matches,
        ...result,
        samples,
        target: 'p50 <= 20 ms',
        met: result.p50 <= 20,
      });
      // The statements the repository runs for this page, and their plans.
      captured.length = 0;
      await listIntegrationPage(db, large.id, {
        filter: { search: term },
        orderBy: 'CREATED_AT',
        direction: 'ASC',
        page: { direction: 'forward', limit: 20, cursor: null },
      } as Parameters<typeof listIntegrationPage>[2]);
      const statements = [...captured];
      const plan: string[] = [];
      for (const query of statements) {
        const explained = await pool.query(`explain (analyze, costs off, timing off, summary on) ${query.sql}`, [...query.parameters]);
        plan.push(query.sql, ...explained.rows.map((row: Record<string, string>) => `  ${row['QUERY PLAN']}`));
        // The ids of a rare term's matches, listed in full, say nothing more than their number.
        for (const [i, line] of plan.entries()) if (line.length > 240) plan[i] = `${line.slice(0, 240)}…`;
      }
      plans.push({ term, plan });
      const candidates = plan.join('\n');
      if (matches > 0 && matches <= 2_000 && !candidates.includes('integrations_org_display_name_trgm_idx'))
        problems.push(`search "${term}" (${matches} matches) does not use the trigram index`);
    }

    // --- totalCount ---------------------------------------------------------------------------------
    for (const [label, filter] of [
      ['totalCount, large organization', {}],
      ['totalCount, large organization, search "kiwi"', { search: 'kiwi' }],
    ] as const) {
      let count = 0;
      const result = await time(samples, async () => {
        const answer = await ask(gateway.url, large.key, COUNT, { filter });
        count = answer.integrations.totalCount as number;
        return answer;
      });
      measured.push({
        name: `${label} (answered ${count})`,
        rows: large.rows,
        ...result,
        samples,
        target: 'p50 <= 100 ms',
        met: result.p50 <= 100,
      });
    }

    // --- Keyset pages: large against small ----------------------------------------------------------
    const pages: [string, Record<string, unknown>][] = [
      ['first page, CREATED_AT', {}],
      ['first page, DISPLAY_NAME DESC', { orderBy: { field: 'DISPLAY_NAME', direction: 'DESC' } }],
      ['first page, provider filter', { filter: { providers: ['slack'] } }],
    ];
    for (const [label, variables] of pages) {
      const of = async (org: typeof large) => {
        // The second page too: a cursor's keyset condition, as deep pages have.
        const first = await ask(gateway.url, org.key, PAGE, { first: 50, ...variables });
        const after = (first.integrations.pageInfo as { endCursor: string }).endCursor;
        return time(samples, () => ask(gateway.url, org.key, PAGE, { first: 50, after, ...variables }));
      };
      const small = await of(seeded.small);
      const big = await of(large);
      measured.push({ name: `${label}, ${seeded.small.rows} rows`, rows: seeded.small.rows, ...small, samples, target: null, met: null });
      const within = big.p50 <= small.p50 * 1.2;
      measured.push({
        name: `${label}, ${large.rows} rows`,
        rows: large.rows,
        ...big,
        samples,
        target: 'p50 within 20% of the small one',
        met: within,
      });
    }

    // --- Report -------------------------------------------------------------------------------------
    const machine = machineDescription(loadBefore);
    const lines = [
      `# Scale: ${started.toISOString()} (${options.profile.name})`,
      '',
      `${gitDescription()}; ${seeded.total} integrations in ${seeded.organizations} organizations, the large one with ` +
        `${large.rows} visible; seeded in ${seedSeconds.toFixed(1)} s. ` +
        `Load average before: ${loadBefore.map((n) => n.toFixed(2)).join(' ')}.`,
      '',
      '| measurement | rows | p50 ms | p90 ms | target | met |',
      '|---|---|---|---|---|---|',
      ...measured.map(
        (m) =>
          `| ${m.name} | ${m.rows ?? ''} | ${m.p50.toFixed(2)} | ${m.p90.toFixed(2)} | ${m.target ?? ''} | ` +
          `${m.met === null ? '' : m.met ? 'yes' : 'no'} |`,
      ),
      '',
      '## Search plans (EXPLAIN ANALYZE of what the repository runs)',
      '',
      ...plans.flatMap((p) => [`### "${p.term}"`, '', '```', ...p.plan, '```', '']),
      ...(problems.length ? ['## Problems', '', ...problems.map((p) => `- ${p}`), ''] : []),
    ];
    const markdown = lines.join('\n');
    log(`\n${markdown}`);
    await mkdir(options.outDir, { recursive: true });
    const stamp = started
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const file = path.join(options.outDir, `${stamp}-scale${options.profile.name === 'full' ? '' : `-${options.profile.name}`}`);
    const report = {
      startedAt: started.toISOString(),
      machine,
      seeded: { ...seeded, large: { rows: large.rows }, small: { rows: seeded.small.rows } },
      seedSeconds,
      measured,
      plans,
      problems,
    };
    await writeFile(`${file}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${file}.md`, `${markdown}\n`);
    log(`bench --scale: wrote ${file}.json and .md`);
    return problems.length ? 1 : 0;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`bench: cleanup failed: ${String(error)}`));
  }
}
