import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Kysely } from 'kysely';
import { getConnector } from '../../connectors/registry.js';
import type { AuthKind, Database } from '../../db/database.js';
import { RevokedKeyError, ServiceError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  connectThroughSession,
  findSessionByToken,
  sessionDonePath,
  sessionIntegration,
} from '../../modules/connect-session/connect-session.flow.js';
import { CONNECT_PATH, type ConnectSession, sessionState } from '../../modules/connect-session/connect-session.model.js';
import { type ProviderOffer, sessionOffers } from '../../modules/connect-session/connect-session.service.js';
import { type GatewayServices, servicesForRequest } from '../../services.js';
import type { RequestState } from '../admission/request-state.js';
import { reasonOf } from '../oauth-done.js';
import { EMBED_SCRIPT_PATH, embedScript, PAGE_SCRIPT_PATH, pageScript } from './connect.assets.js';
import { notice } from './connect.html.js';
import { authorizePage, connectedPage, type FormError, notConnectedPage, providerListPage, providerPage } from './connect.pages.js';

type ConnectEnv = { Variables: { state: RequestState } };
type ConnectContext = Context<ConnectEnv>;

export interface ConnectRouteDeps {
  db: Kysely<Database>;
  services: GatewayServices;
  logger: Logger;
}

/** The session token, moved from the link into this cookie (HttpOnly, SameSite=Lax, scoped to the session's pages). */
const COOKIE = 'igw_connect';
const MAX_FORM_BYTES = 32 * 1024;
const SESSION_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

const methodNotAllowed = (allow: string) => new Response(null, { status: 405, headers: { allow } });
const seeOther = (location: string) => new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store' } });

/** The per-session form token: derived from the session token, which only the page's cookie holds. */
function csrfOf(token: string): string {
  return createHmac('sha256', token).update('connect-form').digest('base64url');
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const unknownLink = () =>
  notice(404, 'This connect link is not valid', ['Check that the whole link was opened, or ask the app for a new one.']);

/** Why a session opens nothing, as a page: spent, expired or withdrawn. */
function closedPage(session: ConnectSession): Response {
  const state = sessionState(session);
  if (state === 'spent')
    return notice(410, 'This connect link was already used', [
      'It has connected an account, and works only once. Ask the app for a new link to connect another.',
    ]);
  if (state === 'withdrawn') return notice(410, 'This connect link was withdrawn', ['Ask the app for a new link.']);
  return notice(410, 'This connect link has expired', [
    `It worked until ${session.expiresAt.toISOString().replace('T', ' ').slice(0, 16)} UTC. Ask the app for a new link.`,
  ]);
}

/** A form body, read only up to MAX_FORM_BYTES. */
async function readForm(request: Request): Promise<URLSearchParams | null> {
  if (Number(request.headers.get('content-length') ?? 0) > MAX_FORM_BYTES) return null;
  if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_FORM_BYTES) {
        await reader.cancel();
        return null;
      }
      chunks.push(value);
    }
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Where a refusal points in the form: the input concerned, from the service's field path. */
function formFieldOf(field: readonly string[]): string | null {
  if (field[0] === 'credentials' && field[1]) return field[1];
  if (field[0] === 'config' && field[1]) return `config.${field[1]}`;
  if (field[0] === 'credentials') return 'token';
  return null;
}

/** A refusal in words, for the end user: the provider's, or the gateway's. */
function refusalMessage(error: ServiceError, providerName: string): string {
  if (error.code === 'PROVIDER_REJECTED_CREDENTIALS') return `${providerName} refused these credentials: ${error.message}`;
  if (error.code === 'PROVIDER_UNREACHABLE' || error.code === 'PROVIDER_ERROR')
    return `${providerName} could not be checked just now: ${error.message} Nothing was saved; try again.`;
  return error.message;
}

/**
 * The hosted connect page. `GET /connect?token=…` moves the token into a cookie and redirects to the
 * session's token-free pages: the providers it offers, a provider's forms, the result. Forms carry a
 * per-session token and post only to the gateway; a token or basic credential is probed before anything is
 * stored, OAuth2 goes to the provider and its callback comes back to the result.
 */
export function mountConnect<E extends ConnectEnv>(router: Hono<E>, deps: ConnectRouteDeps): void {
  const { db, services, logger } = deps;
  const secure = () => services.publicUrl.startsWith('https:');
  const routes = router as unknown as Hono<ConnectEnv>;

  const failed = (c: ConnectContext, error: unknown) => {
    const { requestId } = c.get('state');
    logger.error({ err: error, requestId }, 'connect page failed');
    return notice(503, 'Something went wrong', [
      `The connect page could not do this just now. Try again in a moment (request id ${requestId.replace(/[^\w-]/g, '')}).`,
    ]);
  };
  const guarded =
    (allow: string, handler: (c: ConnectContext) => Promise<Response>) =>
    async (c: ConnectContext): Promise<Response> => {
      if (!allow.split(', ').includes(c.req.method)) return methodNotAllowed(allow);
      try {
        return await handler(c);
      } catch (error) {
        return failed(c, error);
      }
    };

  /** The session this browser holds for the page's id (its cookie), or the page saying to open the link again. */
  const fromCookie = async (c: ConnectContext): Promise<{ session: ConnectSession; token: string } | Response> => {
    const token = getCookie(c, COOKIE);
    const session = token ? await findSessionByToken(db, token) : null;
    if (!token || !session || session.id !== c.req.param('id')) {
      return notice(401, 'Open your connect link again', [
        'This page opens from the connect link the app gave you, in the same browser, with cookies allowed for this site. ' +
          'Open that link again, or ask the app for a new one.',
      ]);
    }
    return { session, token };
  };
  /** A session that can still connect, with the offer for the page's provider (when it has one). */
  const live = async (c: ConnectContext) => {
    const found = await fromCookie(c);
    if (found instanceof Response) return found;
    const state = sessionState(found.session);
    if (state === 'spent') return seeOther(sessionDonePath(found.session));
    if (state !== 'live') return closedPage(found.session);
    return found;
  };
  const offerOf = (session: ConnectSession, key: string | undefined): ProviderOffer | undefined =>
    sessionOffers(services, session).find((offer) => offer.definition.key === key);

  routes.all(
    EMBED_SCRIPT_PATH,
    guarded('GET', async () => embedScript()),
  );
  routes.all(
    PAGE_SCRIPT_PATH,
    guarded('GET', async () => pageScript()),
  );

  routes.all(
    CONNECT_PATH,
    guarded('GET', async (c) => {
      const session = await findSessionByToken(db, c.req.query('token'));
      if (!session) return unknownLink();
      if (sessionState(session) !== 'live') return closedPage(session);
      const token = c.req.query('token') as string;
      const maxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
      const attributes = `Path=${CONNECT_PATH}/${session.id}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure() ? '; Secure' : ''}`;
      const cookie = `${COOKIE}=${token}; ${attributes}`;
      // The token leaves the address bar (and so history and any referrer) at once.
      return new Response(null, {
        status: 303,
        headers: {
          location: `${CONNECT_PATH}/${session.id}`,
          'set-cookie': cookie,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        },
      });
    }),
  );

  routes.all(
    `${CONNECT_PATH}/:id{${SESSION_ID}}`,
    guarded('GET', async (c) => {
      const found = await live(c);
      if (found instanceof Response) return found;
      const offers = sessionOffers(services, found.session);
      const [only] = offers;
      if (offers.length === 1 && only) return seeOther(`${CONNECT_PATH}/${found.session.id}/providers/${only.definition.key}`);
      return providerListPage(found.session, offers);
    }),
  );

  routes.all(
    `${CONNECT_PATH}/:id{${SESSION_ID}}/providers/:provider{[a-z][a-z0-9-]{0,63}}`,
    guarded('GET, POST', async (c) => {
      const found = await live(c);
      if (found instanceof Response) return found;
      const { session, token } = found;
      const offer = offerOf(session, c.req.param('provider'));
      if (!offer) return notice(404, 'Not offered here', ['This connect link does not offer this provider.']);
      const csrf = csrfOf(token);
      const reconnected = await sessionIntegration(db, session);
      const storedConfig = reconnected?.provider === offer.definition.key ? (reconnected.config as Record<string, string>) : {};
      if (c.req.method === 'GET') return providerPage(session, offer, { csrf, config: storedConfig });

      // Cross-site posts carry no cookie (SameSite=Lax) and no form token; a concrete foreign Origin is refused too.
      const origin = c.req.header('origin');
      const own = [new URL(services.publicUrl).origin, new URL(c.req.url).origin];
      if (origin && origin !== 'null' && !own.includes(origin))
        return notice(403, 'Refused', ['This form may be sent only from the connect page itself.']);
      const form = await readForm(c.req.raw);
      if (!form) return notice(400, 'Refused', ['The form could not be read. Go back and send it again.']);
      if (!sameToken(form.get('csrf') ?? '', csrf))
        return notice(403, 'This form has expired', ['Go back, reload the page and send the form again.']);
      const authKind = form.get('authKind') as AuthKind;
      if (!offer.authKinds.includes(authKind)) return notice(400, 'Refused', ['This way of connecting is not offered here.']);
      const config: Record<string, string> = {};
      for (const field of offer.definition.configFields) {
        const value = form.get(`config.${field.name}`)?.trim();
        if (value) config[field.name] = value;
      }
      try {
        const result = await connectThroughSession(
          servicesForRequest(services, c.get('state').requestId),
          db,
          session,
          {
            provider: offer.definition.key,
            authKind,
            config,
            credentials: { token: form.get('token'), username: form.get('username'), password: form.get('password') },
          },
          c.get('state').requestId,
        );
        if (result.authorizationUrl) return authorizePage(offer, result.authorizationUrl);
        return seeOther(sessionDonePath(session));
      } catch (error) {
        if (error instanceof RevokedKeyError) return notice(410, 'This connect link was withdrawn', ['Ask the app for a new link.']);
        if (!(error instanceof ServiceError)) throw error;
        // Used meanwhile (another window of the same link connected): the result says what it connected.
        if (error.code === 'CONFLICT') return seeOther(sessionDonePath(session));
        const shown: FormError = { authKind, message: refusalMessage(error, offer.definition.name), field: formFieldOf(error.field) };
        return providerPage(session, offer, { csrf, config, error: shown }, error.code === 'FORBIDDEN' ? 403 : 422);
      }
    }),
  );

  routes.all(
    `${CONNECT_PATH}/:id{${SESSION_ID}}/done`,
    guarded('GET', async (c) => {
      const found = await fromCookie(c);
      if (found instanceof Response) return found;
      const { session } = found;
      if (session.spentAt) {
        const integration = await sessionIntegration(db, session);
        if (!integration) return notice(410, 'This connection is gone', ['The integration this link connected no longer exists.']);
        return connectedPage(session, integration, getConnector(integration.provider).name);
      }
      if (sessionState(session) !== 'live') return closedPage(session);
      const error = c.req.query('error');
      if (c.req.query('outcome') === 'error' && error)
        return notConnectedPage(session, reasonOf(error.slice(0, 100)), session.integrationId, error.slice(0, 100));
      return seeOther(`${CONNECT_PATH}/${session.id}`);
    }),
  );
}
