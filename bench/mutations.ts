import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FakeProvider } from '../test/fake-provider/server.js';
import { projectRoot } from './processes.js';
import type { SeededOrganization } from './seed.js';
import { type Call, graphqlCall } from './workloads.js';

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    if (statSync(file).isDirectory()) return sourceFiles(file);
    return file.endsWith('.ts') && !file.endsWith('.test.ts') ? [file] : [];
  });
}

function sourceMentions(pattern: RegExp): boolean {
  return sourceFiles(path.join(projectRoot, 'src')).some((file) => pattern.test(readFileSync(file, 'utf8')));
}

/**
 * W4 (testIntegration against the fake provider) and W5 (connectIntegration with and without
 * Idempotency-Key) need other work: the fake provider (issue 3), a vault to seal the credentials that
 * connecting stores, and for W5 Idempotency-Key support (issue 4). What is missing is returned, per
 * workload, as the reason it is skipped.
 */
export function mutationPrerequisites(): { W4: string[]; W5: string[] } {
  const missing: string[] = [];
  if (!existsSync(path.join(projectRoot, 'test/fake-provider/server.ts')))
    missing.push('the fake provider (test/fake-provider/, issue 3) does not exist yet');
  if (sourceMentions(/vault pending/))
    missing.push('the gateway has no vault yet (src/app.ts: "vault pending"), so connecting cannot store a credential');
  const idempotency = sourceMentions(/idempotent-replayed/i)
    ? []
    : ['Idempotency-Key support (issue 4) has not landed: no Idempotent-Replayed header in src/'];
  return { W4: missing, W5: [...missing, ...idempotency] };
}

/** The fake provider (in the harness process) and what points a gateway at it. */
export interface ProviderFixture {
  fake: FakeProvider;
  /** CONNECTOR_* variables, and loopback allowed as an outbound target over http. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startProviderFixture(): Promise<ProviderFixture> {
  const { startFakeProvider } = await import('../test/fake-provider/server.js');
  const { settingsAsEnv } = await import('../test/fake-provider/profiles.js');
  const fake = await startFakeProvider();
  const env: Record<string, string> = { OUTBOUND_ALLOWLIST: '127.0.0.1' };
  for (const line of settingsAsEnv(fake.settings)) {
    const at = line.indexOf('=');
    env[line.slice(0, at)] = line.slice(at + 1);
  }
  return { fake, env, close: () => fake.close() };
}

export const W4_QUERY = `mutation W4($id: ID!) {
  testIntegration(input: { id: $id }) {
    integration { id status health }
    healthCheck { ok httpStatus }
    userErrors { code message field }
  }
}`;

export const W5_QUERY = `mutation W5($input: ConnectIntegrationInput!) {
  connectIntegration(input: $input) {
    integration { id status health provider { key } }
    userErrors { code message field }
  }
}`;

type Json = Record<string, any>;

function payload(status: number, body: string, field: string): Json {
  if (status !== 200) throw new Error(`HTTP ${status}: ${body.slice(0, 300)}`);
  const parsed = JSON.parse(body) as { data?: Json; errors?: unknown[] };
  if (parsed.errors) throw new Error(`GraphQL errors: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
  const result = parsed.data?.[field] as Json;
  if (result.userErrors.length > 0) throw new Error(`userErrors: ${JSON.stringify(result.userErrors)}`);
  return result;
}

/** W5's request: connects a GitHub integration with an API token the fake provider accepts. */
export function connectCall(org: SeededOrganization, token: string, index: number): Call {
  return graphqlCall(org.editorKey, W5_QUERY, {
    input: { provider: 'github', displayName: `Bench GitHub ${index}`, authKind: 'API_TOKEN', credentials: { token } },
  });
}

/** The id of the integration a W5 answer connected; throws when it did not connect an active one. */
export function connectedId(status: number, body: string): string {
  const result = payload(status, body, 'connectIntegration');
  if (result.integration?.status !== 'ACTIVE') throw new Error(`connected integration is ${result.integration?.status}`);
  return result.integration.id as string;
}

export function checkConnected(status: number, body: string): string | null {
  connectedId(status, body);
  return null;
}

export function testCall(org: SeededOrganization, globalIntegrationId: string): Call {
  return graphqlCall(org.editorKey, W4_QUERY, { id: globalIntegrationId });
}

export function checkTested(status: number, body: string): string | null {
  const result = payload(status, body, 'testIntegration');
  if (result.healthCheck?.ok !== true) return `the probe failed: ${JSON.stringify(result.healthCheck)}`;
  return result.integration?.health === 'HEALTHY' ? null : `health is ${result.integration?.health}`;
}
