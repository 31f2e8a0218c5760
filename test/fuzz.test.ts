import { type ClientRequest, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { schema } from '../src/graphql/schema.js';
import { issueApiKey } from '../src/modules/api-key/api-key.service.js';
import { OutboundPolicy } from '../src/outbound/index.js';
import { findApiKeyRow, insertHealthChecks, insertIntegration, insertIntegrations, type OrgFixture } from './support/fixtures.js';
import { Random } from './support/fuzz-random.js';
import { type FuzzCase, FUZZ_PLAN_SIZE, type FuzzWorld, generateFuzzCases } from './support/fuzz-requests.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { captureLogs } from './support/logs.js';

/**
 * Bad input, tried for real: over a thousand generated bad requests (FUZZ_COUNT=<n> sends n in the same
 * proportions; `npm run test:fuzz` sends 10,000) against a gateway listening on a loopback port, with its
 * production hardening on (limits, rate limits, no introspection, no suggestions). Every answer must be a
 * 4xx or carry error codes, never a 5xx or a hang; the gateway must stay up; and the database must hold
 * exactly what it held before. FUZZ_SEED=<n> replays a run.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_128);
const COUNT = Number(process.env.FUZZ_COUNT ?? FUZZ_PLAN_SIZE);
if (!Number.isInteger(COUNT) || COUNT < 1) throw new Error(`FUZZ_COUNT must be a positive whole number, not ${process.env.FUZZ_COUNT}`);
/** No answer within this is a hang. */
const REQUEST_TIMEOUT_MS = 15_000;
const CONCURRENCY = 4;
/** Deadlines of the gateway's HTTP server, short so that stalled requests are answered quickly. */
const DEADLINES = { headersTimeoutMs: 2_000, requestTimeoutMs: 3_000 };

/**
 * Tables whose content legitimately changes on a bad request, and what of them is left out of the
 * comparison:
 * - rate_limit_buckets: whole. Charging the caller's budget is what rate limiting does for every
 *   operation it admits (an operation's cost is charged before it runs, whatever the operation then answers).
 * - api_keys.last_used_at: the column only. Authentication records when a key was last used (to the
 *   minute), whatever the request then turns out to be; every other column is compared.
 * - integration_events of outcome FAILED: the audit log records a connection the provider (or the
 *   outbound policy) refused; every other event is compared.
 */
const EXCLUDED_TABLES = new Set(['rate_limit_buckets']);
const ROW_TEXT: Record<string, string> = { api_keys: `(to_jsonb(t) - 'last_used_at')::text` };
const ROW_FILTER: Record<string, string> = { integration_events: `outcome <> 'FAILED'` };

type Snapshot = Record<string, { rows: number; hash: string }>;

/** Row count and an md5 of the sorted rows of every table of the schema. */
async function snapshot(db: Kysely<Database>): Promise<Snapshot> {
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1`.execute(db);
  const result: Snapshot = {};
  for (const { name } of tables.rows) {
    if (EXCLUDED_TABLES.has(name)) continue;
    const text = sql.raw(ROW_TEXT[name] ?? 't::text');
    const filter = sql.raw(ROW_FILTER[name] ?? 'true');
    const { rows } = await sql<{ rows: number; hash: string }>`
      select count(*)::int as rows, md5(coalesce(string_agg(r, E'\\n' order by r), '')) as hash
      from (select ${text} as r from ${sql.table(name)} t where ${filter}) s`.execute(db);
    result[name] = rows[0] as { rows: number; hash: string };
  }
  return result;
}

const decodeCursor = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string, string];

interface Answer {
  status: number | null;
  contentType: string | null;
  text: string;
  /** Why there is no answer: a timeout (a hang), or the connection closed without one. */
  failure?: 'timeout' | 'closed';
}

/**
 * One request on a connection of its own (node:http, no keep-alive): a connection the server closed after
 * refusing a body must not be reused by the next request and turn into a spurious reset.
 */
function sendRequest(origin: string, request: NonNullable<FuzzCase['request']>): Promise<Answer> {
  return new Promise((resolve) => {
    const { body } = request;
    const url = new URL(`${origin}/graphql${request.query ? `?${request.query}` : ''}`);
    const outgoing = httpRequest(url, { method: request.method, headers: request.headers, agent: false });
    const timer = setTimeout(() => {
      outgoing.destroy();
      resolve({ status: null, contentType: null, text: '', failure: 'timeout' });
    }, REQUEST_TIMEOUT_MS);
    const done = (answer: Answer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    outgoing.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', () => done({ status: null, contentType: null, text: 'response aborted', failure: 'closed' }));
      response.on('end', () =>
        done({
          status: response.statusCode ?? null,
          contentType: response.headers['content-type'] ?? null,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    // The server may answer 413 and close while a streamed body is still being sent.
    outgoing.on('error', (error) => done({ status: null, contentType: null, text: String(error), failure: 'closed' }));
    if (body === undefined) outgoing.end();
    else if (typeof body === 'object' && 'streamBytes' in body) void streamBody(outgoing, body.streamBytes);
    else outgoing.end(body);
  });
}

/** Writes `bytes` of an unfinished JSON body in chunks, without a Content-Length (chunked encoding). */
async function streamBody(outgoing: ClientRequest, bytes: number): Promise<void> {
  const chunk = Buffer.from(`{"query":"${'x'.repeat(64 * 1024)}`);
  for (let sent = 0; sent < bytes && !outgoing.destroyed; sent += chunk.length) {
    if (!outgoing.write(chunk)) {
      // Whichever comes first; the other listener goes too, or every chunk would leave one behind.
      await new Promise<void>((resolve) => {
        const done = () => {
          outgoing.off('drain', done).off('close', done);
          resolve();
        };
        outgoing.once('drain', done).once('close', done);
      });
    }
  }
  if (!outgoing.destroyed) outgoing.end();
}

/**
 * Raw bytes over a socket, half-closed after writing (or, for a stalled request, left open for the
 * server's deadlines to close); the status line of whatever comes back.
 */
function sendRaw(port: number, bytes: Uint8Array, stall = false): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => (stall ? socket.write(bytes) : socket.end(bytes)));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ status: null, contentType: null, text: '', failure: 'timeout' });
    }, REQUEST_TIMEOUT_MS);
    socket.on('data', (data) => chunks.push(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve(status ? { status: Number(status), contentType: null, text } : { status: null, contentType: null, text, failure: 'closed' });
    });
  });
}

/** Mutation payloads (objects with `userErrors`) in `data`, wherever the document put them. */
function payloadsOf(data: unknown): { userErrors: unknown[] }[] {
  if (data === null || typeof data !== 'object') return [];
  return Object.values(data).filter(
    (value): value is { userErrors: unknown[] } =>
      value !== null && typeof value === 'object' && Array.isArray((value as { userErrors?: unknown }).userErrors),
  );
}

const hasCode = (error: any) => typeof error?.extensions?.code === 'string' && error.extensions.code !== '';

/** Why an answer is wrong, or null when it is what the case expects. */
function judge(fuzzCase: FuzzCase, answer: Answer, secrets: readonly string[], foreignMarkers: readonly string[]): string | null {
  if (answer.failure === 'timeout') return 'no answer (hang)';
  if (answer.failure === 'closed') {
    // Only a request the server cannot finish reading may go unanswered: a streamed huge body, or raw bytes.
    return fuzzCase.raw || fuzzCase.category.includes('streamed') ? null : `connection closed without an answer: ${answer.text}`;
  }
  const status = answer.status as number;
  if (status >= 500) return `status ${status}`;
  if (secrets.some((secret) => answer.text.includes(secret))) return 'the answer contains an API key';
  let bodyText = answer.text;
  if (fuzzCase.raw) {
    if (status >= 400) return null;
    // Node accepted the bytes as HTTP: the gateway's answer is judged like any other.
    bodyText = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
    answer = { ...answer, contentType: /^content-type: *(.*)$/im.exec(answer.text)?.[1] ?? null };
  }
  let body: any = null;
  if (answer.contentType?.includes('json')) {
    try {
      body = JSON.parse(bodyText);
    } catch {
      return 'a JSON content type with a body that is not JSON';
    }
  } else if (bodyText !== '' && status >= 400) {
    return `a ${status} with a body of type ${answer.contentType}`;
  }
  const errors: unknown[] = Array.isArray(body?.errors) ? body.errors : [];
  if (errors.some((error) => !hasCode(error))) return 'an error without extensions.code';
  // A masked error is a bug met by this input, whatever the status (200 when `data` is there).
  if (errors.some((error: any) => error.extensions.code === 'INTERNAL_SERVER_ERROR')) return 'an unexpected (masked) error';
  if (fuzzCase.expect === 'blocked') {
    const codes = payloadsOf(body?.data).flatMap((payload) => payload.userErrors.map((error: any) => error?.code));
    return status === 200 && codes.length > 0 && codes.every((code) => code === 'OUTBOUND_BLOCKED')
      ? null
      : `status ${status} with codes ${JSON.stringify(codes)}; expected OUTBOUND_BLOCKED`;
  }
  if (fuzzCase.expect === 'invisible') {
    if (status !== 200 || errors.length > 0)
      return `status ${status} with ${errors.length} errors for another organization's ID; expected null`;
    const values = Object.values(body?.data ?? { missing: 'data' });
    const allNull = values.every((value) => value === null || (Array.isArray(value) && value.every((item) => item === null)));
    if (!allNull || foreignMarkers.some((marker) => answer.text.includes(marker))) return "another organization's object is visible";
    return null;
  }
  if (status >= 400) return null;
  if (errors.length > 0) return null;
  const payloads = payloadsOf(body?.data);
  if (
    payloads.length > 0 &&
    payloads.every((payload) => payload.userErrors.length > 0 && payload.userErrors.every((error: any) => typeof error?.code === 'string'))
  )
    return null;
  return `accepted (status ${status}, no error)`;
}

function describeCase(fuzzCase: FuzzCase): string {
  if (fuzzCase.raw) return JSON.stringify(Buffer.from(fuzzCase.raw).toString('latin1').slice(0, 160));
  const { method, headers, body, query } = fuzzCase.request!;
  const shownHeaders = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, value.length > 60 ? `${value.slice(0, 60)}…(${value.length})` : value]),
  );
  const shownBody =
    typeof body === 'string' ? body.slice(0, 240) : body instanceof Uint8Array ? `<${body.length} bytes>` : JSON.stringify(body);
  return `${method}${query ? ` ?${query.slice(0, 80)}` : ''} ${JSON.stringify(shownHeaders)} ${shownBody}`;
}

let gateway: TestGateway;
let port: number;
let home: OrgFixture;
let away: OrgFixture;
let world: FuzzWorld;
const logs = captureLogs('warn');
const outboundPolicy = new OutboundPolicy({ allowlist: [], allowPrivate: true, requireHttps: false });

beforeAll(async () => {
  gateway = await createTestGateway({
    logger: logs.logger,
    world: true,
    listen: DEADLINES,
    // Budgets no run exhausts: a request refused 429 would test nothing else.
    rateLimit: { apiKeyPoints: 1_000_000_000, organizationPoints: 1_000_000_000 },
    hardening: { introspection: false, hideSuggestions: true },
    // No generated request may reach a provider. The outbound policy of a development gateway (private
    // networks allowed) judges each destination first; one it lets through fails here rather than leave
    // the machine, and the case that sent it is answered PROVIDER_UNREACHABLE instead of OUTBOUND_BLOCKED.
    services: {
      http: async (url) => {
        outboundPolicy.checkUrl(new URL(url));
        throw new Error('the fuzz suite makes no provider calls');
      },
    },
  });
  const db = gateway.db;
  ({ acme: home, globex: away } = gateway.world);
  const own = await insertIntegrations(db, home.organization.id, 5, (i) => ({
    displayName: `Home ${i}`,
    createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
  }));
  const revoked = await insertIntegration(db, home.organization.id, { displayName: 'Home revoked', status: 'REVOKED' });
  await insertHealthChecks(db, home.organization.id, (own[0] as { id: string }).id, 3);
  const foreign = await insertIntegrations(db, away.organization.id, 3, (i) => ({ displayName: `Away secret ${i}` }));
  const foreignChecks = await insertHealthChecks(db, away.organization.id, (foreign[0] as { id: string }).id, 3);
  const revokedKey = (await issueApiKey(db, { organizationId: home.organization.id, role: 'ADMIN' })).secret;
  await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('prefix', '=', revokedKey.slice(0, 16)).execute();

  const ownKeyRow = await findApiKeyRow(db, home.keys.VIEWER);
  const awayKeyRows = await Promise.all(Object.values(away.keys).map((key) => findApiKeyRow(db, key)));
  const pages = await gateway.graphql(
    home.keys.VIEWER,
    'query($id: ID!) { integrations(first: 2) { edges { cursor } } integration(id: $id) { healthChecks(first: 1) { edges { cursor } } } }',
    { id: own[0]?.globalId },
  );
  world = {
    schema,
    keys: home.keys,
    revokedKey,
    own: {
      integrations: own.map((row) => row.globalId),
      revokedIntegration: revoked.globalId,
      apiKey: encodeGlobalID('ApiKey', ownKeyRow.id),
    },
    foreign: {
      Integration: foreign.map((row) => row.globalId),
      ApiKey: awayKeyRows.map((row) => encodeGlobalID('ApiKey', row.id)),
      HealthCheck: foreignChecks.map((id) => encodeGlobalID('HealthCheck', id)),
      Organization: [encodeGlobalID('Organization', away.organization.id)],
    },
    cursor: {
      integrations: decodeCursor(pages.body.data.integrations.edges[0].cursor),
      healthChecks: decodeCursor(pages.body.data.integration.healthChecks.edges[0].cursor),
    },
  };

  port = gateway.port;
});

afterAll(async () => {
  await gateway?.close();
});

describe(`fuzz (seed ${SEED}; FUZZ_SEED=${SEED} replays it)`, () => {
  it(`answers ${COUNT} bad requests with 4xx or coded errors, stays up, and changes nothing`, {
    timeout: Math.max(240_000, COUNT * 200),
  }, async () => {
    const cases = generateFuzzCases(new Random(SEED), world, COUNT);
    expect(cases.length).toBeGreaterThanOrEqual(Math.min(COUNT, 1_000));
    const secrets = [...Object.values(home.keys), ...Object.values(away.keys), world.revokedKey].filter((key) => key !== undefined);
    const foreignMarkers = [away.organization.slug, 'Away secret'];
    const before = await snapshot(gateway.db);

    const failures: string[] = [];
    const byCategory = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < cases.length; index = next++) {
        const fuzzCase = cases[index] as FuzzCase;
        byCategory.set(fuzzCase.category, (byCategory.get(fuzzCase.category) ?? 0) + 1);
        const answer = fuzzCase.raw
          ? await sendRaw(port, fuzzCase.raw, fuzzCase.stall)
          : await sendRequest(`http://127.0.0.1:${port}`, fuzzCase.request!);
        const problem = judge(fuzzCase, answer, secrets, foreignMarkers);
        if (problem) {
          failures.push(
            `#${index} [${fuzzCase.category}] ${problem}\n    request: ${describeCase(fuzzCase)}\n` +
              `    answer: ${answer.status} ${answer.text.slice(0, 300)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const serverErrors = logs
      .lines()
      .filter((line) => line.level >= 50)
      .map((line) => `${line.msg}: ${line.err?.stack ?? line.err?.message ?? ''}`);
    expect(
      failures,
      `seed ${SEED}: ${failures.length} of ${cases.length} answers are wrong; ` +
        `server errors logged: ${serverErrors.slice(0, 5).join(' | ')}\n${failures.slice(0, 25).join('\n')}`,
    ).toEqual([]);
    expect(serverErrors, `seed ${SEED}: errors were logged`).toEqual([]);
    expect(Object.fromEntries(byCategory), `seed ${SEED}`).toBeDefined();

    // Still up: a good request is served, on the same port.
    const good = await sendRequest(`http://127.0.0.1:${port}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${home.keys.VIEWER}` },
      body: JSON.stringify({ query: '{ viewer { role organization { slug } } integrations(first: 10) { totalCount } }' }),
    });
    expect(good.status, `seed ${SEED}`).toBe(200);
    expect(JSON.parse(good.text).data, `seed ${SEED}`).toEqual({
      viewer: { role: 'VIEWER', organization: { slug: 'acme' } },
      integrations: { totalCount: 5 },
    });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

    expect(await snapshot(gateway.db), `seed ${SEED}: the database changed`).toEqual(before);
  });
});
