import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { encodeGlobalID } from '../graphql/global-id.js';
import { type AuthorizationOutcome, completeAuthorization } from '../modules/integration/oauth-callback.js';
import type { GatewayServices } from '../services.js';

/** Where providers send the browser back after the user authorized (or refused). */
export const OAUTH_CALLBACK_PATH = '/oauth/callback';

function page(status: number, message: string): Response {
  const body = `<!doctype html><meta charset="utf-8"><title>Authorization</title><p>${message}</p>`;
  return new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
}

/** What the browser sees when the callback itself failed (the database went away): retryable, with the request id. */
export function callbackFailurePage(requestId: string): Response {
  return page(
    503,
    'The gateway could not finish this authorization just now. Try again in a moment; ' +
      `if it keeps failing, give your administrator the request id ${requestId.replace(/[^\w-]/g, '')}.`,
  );
}

/** A refusal as a page (400), or a redirect to where the connection started, saying how it ended. */
function answerOf(outcome: AuthorizationOutcome): Response {
  if (outcome.kind === 'refused') return page(400, outcome.message);
  const url = new URL(outcome.returnUrl);
  url.searchParams.set('integration', encodeGlobalID('Integration', outcome.integrationId));
  url.searchParams.set('outcome', outcome.outcome);
  if (outcome.error) url.searchParams.set('error', outcome.error);
  return new Response(null, { status: 302, headers: { location: url.toString(), 'cache-control': 'no-store' } });
}

/**
 * GET /oauth/callback: the browser's return from a provider's OAuth2 authorization (no API key: the
 * state is the credential). The domain completes the authorization; this answers the browser.
 */
export async function oauthCallback(
  services: GatewayServices,
  db: Kysely<Database>,
  request: Request,
  requestId: string,
): Promise<Response> {
  return answerOf(await completeAuthorization(services, db, new URL(request.url).searchParams, requestId));
}
