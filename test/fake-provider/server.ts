import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findConnector } from '../../src/connectors/registry.js';
import type { ConnectorSettingsMap } from '../../src/connectors/settings.js';
import { API_ROUTES, type ApiRoute } from './apis.js';
import { authorize, revoke, token } from './oauth.js';
import { type Answer, clientIdOf, type FakeProfile, type FakeRequest, PROFILES, settingsFor } from './profiles.js';
import { type EndpointName, type Fault, FakeStore, type Grant, type ProviderKnobs } from './store.js';

export type { EndpointName, Fault, ProviderKnobs } from './store.js';

/** A fake of every provider in the catalog on one loopback port, each below `/<provider key>/`. */
export interface FakeProvider {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Connector settings pointing every connector at this fake, with its OAuth2 clients. */
  settings: ConnectorSettingsMap;
  /** Base URL to give the generic `http` connector as its `baseUrl` config. */
  httpBaseUrl: string;
  store: FakeStore;
  /** Scripts the next `times` answers of an endpoint (Infinity: until `reset`). */
  fault(provider: string, endpoint: EndpointName, fault: Fault, times?: number): void;
  knobs(provider: string): ProviderKnobs;
  /** Calls received by an endpoint since the last reset; token calls may be narrowed by grant type. */
  calls(provider: string, endpoint?: EndpointName, grantType?: string): number;
  /** A valid API token (with the connector's default scopes unless given). */
  issueApiToken(provider: string, scopes?: readonly string[]): string;
  addBasicUser(provider: string, username?: string): { username: string; password: string };
  /** Makes an API token or basic user stop working, as when it is deleted at the provider. */
  revokeCredential(provider: string, credential: { token: string } | { username: string }): void;
  /** The newest OAuth2 grant the fake issued for a provider. */
  latestGrant(provider: string): Grant | undefined;
  tokenIsLive(provider: string, token: string): boolean;
  refreshTokenIsLive(token: string): boolean;
  /** Makes every access token of the provider expired at the fake (refresh tokens keep working). */
  expireAccessTokens(provider: string): void;
  secrets(): string[];
  /** Clears faults, knobs and the call log (tokens stay). */
  reset(): void;
  close(): Promise<void>;
}

function findRoute(
  profile: FakeProfile,
  provider: string,
  method: string,
  path: string,
): { endpoint: EndpointName; run: (req: FakeRequest) => Answer } | null {
  const oauth = profile.oauth;
  if (oauth && method === 'GET' && path === oauth.authorizePath) return { endpoint: 'authorize', run: (req) => authorize(req, profile) };
  if (oauth && method === 'POST' && path === oauth.tokenPath) return { endpoint: 'token', run: (req) => token(req, profile) };
  if (oauth?.revokePath && method === 'POST' && path === oauth.revokePath) return { endpoint: 'revoke', run: revoke };
  const matches = (route: ApiRoute) => {
    const base = (route.base === 'oauthApi' ? profile.oauthApiPath : profile.apiPath) ?? '';
    if (route.method !== method || !path.startsWith(base)) return false;
    const rest = path.slice(base.length) || '/';
    return typeof route.path === 'string' ? route.path === rest : route.path.test(rest);
  };
  const route = API_ROUTES[provider]?.find(matches);
  if (!route) return null;
  const base = (route.base === 'oauthApi' ? profile.oauthApiPath : profile.apiPath) ?? '';
  return { endpoint: route.endpoint, run: (req) => route.handle({ ...req, path: req.path.slice(base.length) || '/' }) };
}

function send(res: ServerResponse, answer: Answer): void {
  if (res.destroyed || res.writableEnded) return;
  const headers = { ...answer.headers };
  let body: string | undefined;
  if (typeof answer.body === 'string') body = answer.body;
  else if (answer.body !== undefined) {
    body = JSON.stringify(answer.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(answer.status, headers).end(body);
}

function faultAnswer(fault: Fault & { status: number }): Answer {
  const retryAfter = fault.retryAfter ?? (fault.status === 429 ? 1 : undefined);
  return {
    status: fault.status,
    headers: { ...(retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }), ...fault.headers },
    body: fault.body ?? { error: fault.status === 401 ? 'invalid_token' : 'fake_fault', message: `scripted HTTP ${fault.status}` },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/**
 * A root-served provider's settings: its OAuth2 client, registered at this instance, and no URLs, since
 * those come from the connector's templates and the integration's `host` config.
 */
function rootSettings(provider: string, url: string, secrets: ReadonlyMap<string, string>): ConnectorSettingsMap {
  const secret = secrets.get(provider);
  return { [provider]: secret ? { clientId: clientIdOf(provider), clientSecret: secret, oauthOrigin: url } : {} };
}

export interface FakeProviderOptions {
  /** 0 (default): a free port. */
  port?: number;
  host?: string;
  /** The OAuth2 client secret of a provider; random by default. */
  clientSecret?: (provider: string) => string;
  /**
   * Serve this one provider at the root of the port, as a self-hosted instance is (a self-managed GitLab
   * at `http://127.0.0.1:<port>`): the connector reaches it through its `host` config and its own URL
   * templates, and `settings` holds only the OAuth2 client, registered at this instance.
   */
  root?: string;
}

/** Starts the fake on 127.0.0.1. */
export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const store = new FakeStore();
  const secrets = new Map<string, string>();
  for (const [key, profile] of Object.entries(PROFILES)) {
    if (!profile.oauth) continue;
    const secret = options.clientSecret?.(key) ?? `${key}_client_secret_${randomBytes(12).toString('hex')}`;
    secrets.set(key, secret);
    store.clients.set(clientIdOf(key), { provider: key, secret });
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake.invalid');
      const [, first = '', ...rest] = url.pathname.split('/');
      const provider = options.root ?? first;
      const profile = PROFILES[provider];
      const path = options.root ? url.pathname : `/${rest.join('/')}`;
      const method = req.method ?? 'GET';
      const route = profile ? findRoute(profile, provider, method, path) : null;
      const raw = await readBody(req);
      if (!route) return send(res, { status: 404, body: { error: 'not_found', path: url.pathname } });
      const type = String(req.headers['content-type'] ?? '');
      let parsed: Record<string, unknown> | null = null;
      if (type.includes('json') && raw) parsed = JSON.parse(raw) as Record<string, unknown>;
      const form = type.includes('x-www-form-urlencoded') ? new URLSearchParams(raw) : new URLSearchParams();
      store.calls.push({
        provider,
        endpoint: route.endpoint,
        method,
        path,
        grantType: form.get('grant_type'),
        headers: { ...req.headers },
        body: raw,
      });
      const fault = store.takeFault(provider, route.endpoint);
      await fault?.until;
      if (fault?.delayMs) {
        let gone = false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, fault.delayMs).unref();
          res.once('close', () => {
            gone = true;
            clearTimeout(timer);
            resolve();
          });
        });
        // A slow provider that the client gave up on never processes the request (no half-done refresh).
        if (gone) return;
      }
      if (fault?.drop) return void req.socket.destroy();
      if (fault?.status !== undefined) return send(res, faultAnswer(fault as Fault & { status: number }));
      send(res, route.run({ provider, method, path, query: url.searchParams, headers: req.headers, form, json: parsed, store }));
    })().catch((error: unknown) => send(res, { status: 500, body: { error: 'fake_provider_bug', message: String(error) } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    port,
    settings: options.root ? rootSettings(options.root, url, secrets) : settingsFor(url, secrets),
    httpBaseUrl: `${url}/http`,
    store,
    fault(provider, endpoint, fault, times = 1) {
      const key = `${provider}:${endpoint}`;
      store.faults.set(key, [...(store.faults.get(key) ?? []), { fault, remaining: times }]);
    },
    knobs: (provider) => store.knobsOf(provider),
    calls: (provider, endpoint, grantType) =>
      store.calls.filter(
        (call) => call.provider === provider && (!endpoint || call.endpoint === endpoint) && (!grantType || call.grantType === grantType),
      ).length,
    issueApiToken: (provider, scopes) => store.issueApiToken(provider, [...(scopes ?? findConnector(provider)?.defaultScopes ?? [])]),
    addBasicUser: (provider, username) => store.addBasicUser(provider, username),
    revokeCredential(provider, credential) {
      if ('token' in credential) {
        const record = store.accessTokens.get(credential.token);
        if (record) record.revoked = true;
      } else store.basicUsers.delete(`${provider}:${credential.username}`);
    },
    latestGrant: (provider) => [...store.grants.values()].filter((grant) => grant.provider === provider).at(-1),
    tokenIsLive: (provider, value) => Boolean(store.liveToken(provider, value)),
    refreshTokenIsLive(value) {
      const record = store.refreshTokens.get(value);
      return Boolean(record && !record.dead && !store.grants.get(record.grantId)?.revoked);
    },
    expireAccessTokens(provider) {
      for (const record of store.accessTokens.values())
        if (record.provider === provider && record.kind === 'oauth') record.expiresAt = Date.now() - 1000;
    },
    secrets: () => store.secrets(),
    reset() {
      store.faults.clear();
      store.knobs.clear();
      store.calls.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
