import { randomUUID } from 'node:crypto';
import type { StatementCounter } from './pg-counter.js';
import { type Call, firstDifference, type ReadWorkload, type Side } from './workloads.js';

/** Sends one call with fetch (outside the timed runs). */
export async function send(baseUrl: string, call: Call): Promise<{ status: number; body: string }> {
  const headers = call.uniqueHeader ? { ...call.headers, [call.uniqueHeader]: randomUUID() } : call.headers;
  const response = await fetch(baseUrl + call.path, {
    method: call.method,
    headers,
    ...(call.body === undefined ? {} : { body: call.body }),
  });
  return { status: response.status, body: await response.text() };
}

export async function answers(side: Side, baseUrl: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const call of side.calls) {
    const { status, body } = await send(baseUrl, call);
    out.push(side.normalize(status, body));
  }
  return out;
}

/**
 * Asks both servers every question of a workload; they must agree field by field. Where the workload has
 * a PostGraphile side and `postgraphileUrl` is given, PostGraphile's answers must agree with them too.
 * Returns the agreed answers.
 */
export async function checkSameAnswers(
  workload: ReadWorkload,
  gatewayUrl: string,
  baselineUrl: string,
  postgraphileUrl?: string,
): Promise<unknown[]> {
  const fromGateway = await answers(workload.gateway, gatewayUrl);
  const fromBaseline = await answers(workload.baseline, baselineUrl);
  fromGateway.forEach((answer, index) => {
    const difference = firstDifference(answer, fromBaseline[index]);
    if (difference) throw new Error(`${workload.id} request ${index}: gateway and baseline answer differently at ${difference}`);
  });
  if (workload.id !== 'W3' && fromBaseline.every((answer) => (answer as { items: unknown[] }).items.length === 0)) {
    throw new Error(`${workload.id}: every answer is empty; the seed is wrong`);
  }
  if (workload.postgraphile && postgraphileUrl) {
    const fromPostgraphile = await answers(workload.postgraphile, postgraphileUrl);
    fromGateway.forEach((answer, index) => {
      const difference = firstDifference(fromPostgraphile[index], answer);
      if (difference) throw new Error(`${workload.id} request ${index}: PostGraphile and the gateway answer differently at ${difference}`);
    });
  }
  return fromBaseline;
}

/**
 * Statements each request runs, one request at a time through the counting proxy. Every answer must
 * pass `check`, so that a refused request cannot pass for a cheap one. With `steady`, each request is
 * sent once uncounted right before it is counted: the steady state of a client that keeps calling (its
 * key verified within the cache's lifetime), however slowly the machine answers the ones before it.
 */
export async function countStatements(
  calls: readonly Call[],
  baseUrl: string,
  counter: StatementCounter,
  check: (index: number, status: number, body: string) => string | null,
  max = 10,
  steady = false,
): Promise<number[]> {
  const counts: number[] = [];
  for (const [index, call] of calls.slice(0, max).entries()) {
    if (steady) await send(baseUrl, call);
    const before = counter.count;
    const { status, body } = await send(baseUrl, call);
    const problem = check(index, status, body);
    if (problem) throw new Error(`while counting statements of ${call.path}: ${problem}`);
    counts.push(counter.count - before);
  }
  return counts;
}

/** What the counting proxy saw for one request: the statements' text, for the report. */
export async function statementsOf(baseUrl: string, call: Call, counter: StatementCounter): Promise<string[]> {
  counter.resetTexts();
  await send(baseUrl, call);
  return [...counter.texts];
}
