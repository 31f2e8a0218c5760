import type { TestGateway } from './gateway.js';
import { type GraphQLAnswer, sendGraphQL } from './request.js';

export const CREATE_SESSION =
  'mutation($input: CreateConnectSessionInput!) { createConnectSession(input: $input) ' +
  '{ token connectUrl expiresAt userErrors { code field message } } }';

export interface CreatedSession {
  token: string;
  connectUrl: string;
  expiresAt: string;
  /** The session's id (the path of its token-free pages), read from the database. */
  id: string;
}

/** Sends createConnectSession as acme's EDITOR (or the given key). */
export function requestSession(
  gateway: TestGateway,
  input: Record<string, unknown>,
  key = gateway.world.acme.keys.EDITOR,
  headers: Record<string, string> = {},
): Promise<GraphQLAnswer> {
  return sendGraphQL(gateway, { key, query: CREATE_SESSION, variables: { input }, headers });
}

/** Creates a session (end user `user-1` unless given) and fails the test on any user error. */
export async function createSession(gateway: TestGateway, input: Record<string, unknown> = {}, key?: string): Promise<CreatedSession> {
  const answer = await requestSession(gateway, { endUser: { id: 'user-1', displayName: 'Ada Lovelace' }, ...input }, key);
  const payload = answer.body.data?.createConnectSession;
  if (!payload?.token || payload.userErrors.length > 0) throw new Error(`no session: ${answer.text}`);
  const row = await gateway.db
    .selectFrom('connect_sessions')
    .select('id')
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirstOrThrow();
  return { ...payload, id: row.id };
}

/** Makes a session expired, as its time passing would. */
export async function expireSession(gateway: TestGateway, id: string): Promise<void> {
  await gateway.db
    .updateTable('connect_sessions')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', id)
    .execute();
}

/**
 * A browser without JavaScript, on the gateway's fetch: it keeps the connect cookie, follows nothing by
 * itself, and posts forms as `application/x-www-form-urlencoded`.
 */
export class FormBrowser {
  cookie = '';

  constructor(private readonly gateway: TestGateway) {}

  async get(url: string): Promise<Response> {
    return this.remember(await this.gateway.fetch(url, { redirect: 'manual', headers: this.cookie ? { cookie: this.cookie } : {} }));
  }

  async post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.remember(
      await this.gateway.fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
    );
  }

  /** Opens a connect link: the gateway moves the token into the cookie and redirects to the session's page. */
  async open(connectUrl: string): Promise<Response> {
    return this.get(connectUrl);
  }

  private remember(response: Response): Response {
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0] as string;
    return response;
  }
}

/** The form token of a page (its hidden `csrf` field). */
export function csrfIn(html: string): string {
  const found = /name="csrf" value="([^"]+)"/.exec(html);
  if (!found?.[1]) throw new Error('the page has no form token');
  return found[1];
}

/** The text of a page without its markup, for assertions on what a reader sees. */
export function textOf(html: string): string {
  return html
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&#34;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();
}
