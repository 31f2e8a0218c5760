import type { ConfigField } from '../../connectors/types.js';
import type { AuthKind } from '../../db/database.js';
import { encodeGlobalID } from '../../graphql/global-id.js';
import type { ConnectSession } from '../../modules/connect-session/connect-session.model.js';
import type { ProviderOffer } from '../../modules/connect-session/connect-session.service.js';
import type { Integration } from '../../modules/integration/integration.model.js';
import { escapeHtml, page } from './connect.html.js';

// The bodies of the connect page: the providers a session offers, a provider's forms (one per auth kind,
// with the settings its connector needs), and the result. Every input has a label; errors are announced.

const KIND_TITLES: Record<AuthKind, (name: string) => string> = {
  OAUTH2: (name) => `Sign in with ${name}`,
  API_TOKEN: () => 'With an API token',
  BASIC: () => 'With a user name and password',
};
const KIND_SHORT: Record<AuthKind, string> = { OAUTH2: 'Sign in', API_TOKEN: 'API token', BASIC: 'User name and password' };

const forWhom = (session: ConnectSession) => escapeHtml(session.endUser.displayName ?? session.endUser.id);

/** `baseUrl` as "Base URL", `probePath` as "Probe path". */
function labelOf(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return (words.charAt(0).toUpperCase() + words.slice(1)).replace(/\burl\b/gi, 'URL');
}

function sessionLine(session: ConnectSession): string {
  const until = session.expiresAt.toISOString().replace('T', ' ').slice(0, 16);
  return `<p class="muted">For ${forWhom(session)} · this link works until ${until} UTC.</p>`;
}

export function providerListPage(session: ConnectSession, offers: ProviderOffer[]): Response {
  const items = offers
    .map(
      ({ definition, authKinds }) =>
        `<li><a href="/connect/${session.id}/providers/${definition.key}"><span>${escapeHtml(definition.name)}</span>` +
        `<span class="kinds">${authKinds.map((kind) => KIND_SHORT[kind]).join(' · ')}</span></a></li>`,
    )
    .join('');
  return page(
    'Connect an account',
    `<h1>Connect an account</h1>${sessionLine(session)}<nav aria-label="Providers"><ul class="providers">${items}</ul></nav>`,
  );
}

/** What went wrong with the last submission of one of the forms, to show beside it. */
export interface FormError {
  authKind: AuthKind;
  message: string;
  /** The input concerned (`token`, `username`, `password`, `config.<name>`), when one is. */
  field: string | null;
}

export interface ProviderFormState {
  csrf: string;
  /** Config values to fill in: the last submission's, or the reconnected integration's. */
  config: Record<string, string>;
  error?: FormError;
}

interface InputOptions {
  name: string;
  label: string;
  type?: string;
  value?: string;
  required: boolean;
  hint?: string;
  /** The id of the error message about this input, when there is one. */
  error?: string;
}

function input(id: string, options: InputOptions) {
  const { error } = options;
  const describedBy = [options.hint ? `${id}-hint` : '', error ?? ''].filter(Boolean).join(' ');
  const optional = options.required ? '' : ' <span class="optional">(optional)</span>';
  const attributes = [
    `id="${id}"`,
    `name="${escapeHtml(options.name)}"`,
    `type="${options.type ?? 'text'}"`,
    options.value ? `value="${escapeHtml(options.value)}"` : '',
    options.required ? 'required' : '',
    options.type === 'password' ? 'autocomplete="off" spellcheck="false"' : 'spellcheck="false"',
    describedBy ? `aria-describedby="${describedBy}"` : '',
    error ? 'aria-invalid="true"' : '',
  ].filter(Boolean);
  const hint = options.hint ? `<p class="hint" id="${id}-hint">${escapeHtml(options.hint)}</p>` : '';
  return `<label for="${id}">${escapeHtml(options.label)}${optional}</label><input ${attributes.join(' ')}>${hint}`;
}

function configInput(kind: AuthKind, field: ConfigField, value: string | undefined, errorId: string | null): string {
  const id = `${kind.toLowerCase()}-config-${field.name}`;
  if (field.kind === 'choice' && field.choices) {
    const chosen = value ?? field.default;
    const options = field.choices
      .map((choice) => `<option${choice === chosen ? ' selected' : ''}>${escapeHtml(choice)}</option>`)
      .join('');
    return (
      `<label for="${id}">${escapeHtml(labelOf(field.name))}</label>` +
      `<select id="${id}" name="config.${field.name}" aria-describedby="${id}-hint">${options}</select>` +
      `<p class="hint" id="${id}-hint">${escapeHtml(field.description)}</p>`
    );
  }
  return input(id, {
    name: `config.${field.name}`,
    label: labelOf(field.name),
    type: field.kind === 'url' ? 'url' : 'text',
    value: value ?? field.default ?? '',
    required: field.required,
    hint: field.description,
    ...(errorId ? { error: errorId } : {}),
  });
}

function authKindForm(session: ConnectSession, offer: ProviderOffer, kind: AuthKind, state: ProviderFormState): string {
  const { definition } = offer;
  const error = state.error?.authKind === kind ? state.error : undefined;
  const errorId = `${kind.toLowerCase()}-error`;
  const on = (field: string) => (error?.field === field ? errorId : null);
  const fields = definition.configFields.map((field) => configInput(kind, field, state.config[field.name], on(`config.${field.name}`)));
  if (kind === 'API_TOKEN') {
    fields.push(
      input('api_token-token', {
        name: 'token',
        label: `${definition.name} API token`,
        type: 'password',
        required: true,
        hint: `A token you create in ${definition.name}'s settings; it is stored encrypted and never shown again.`,
        ...(on('token') ? { error: errorId } : {}),
      }),
    );
  }
  if (kind === 'BASIC') {
    fields.push(
      input('basic-username', {
        name: 'username',
        label: 'User name or email',
        required: true,
        ...(on('username') ? { error: errorId } : {}),
      }),
      input('basic-password', {
        name: 'password',
        label: 'Password or API secret',
        type: 'password',
        required: true,
        ...(on('password') ? { error: errorId } : {}),
      }),
    );
  }
  const alert = error ? `<div class="alert" role="alert" id="${errorId}">${escapeHtml(error.message)}</div>` : '';
  const button = kind === 'OAUTH2' ? `Continue to ${escapeHtml(definition.name)}` : 'Connect';
  const headingId = `${kind.toLowerCase()}-heading`;
  return (
    `<section aria-labelledby="${headingId}"><h2 id="${headingId}">${escapeHtml(KIND_TITLES[kind](definition.name))}</h2>${alert}` +
    `<form method="post" action="/connect/${session.id}/providers/${definition.key}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(state.csrf)}"><input type="hidden" name="authKind" value="${kind}">` +
    `${fields.join('')}<button type="submit">${button}</button></form></section>`
  );
}

export function providerPage(session: ConnectSession, offer: ProviderOffer, state: ProviderFormState, status = 200): Response {
  const { definition } = offer;
  const title = session.reconnect ? `Reconnect ${definition.name}` : `Connect ${definition.name}`;
  const back = session.reconnect ? '' : `<p class="back"><a href="/connect/${session.id}">← All providers</a></p>`;
  const forms = offer.authKinds.map((kind) => authKindForm(session, offer, kind, state)).join('');
  return page(`${state.error ? 'Error: ' : ''}${title}`, `${back}<h1>${escapeHtml(title)}</h1>${sessionLine(session)}${forms}`, {
    status,
  });
}

/** The provider's authorization page is next: a plain link, followed at once (no script needed). */
export function authorizePage(offer: ProviderOffer, authorizationUrl: string): Response {
  const url = escapeHtml(authorizationUrl);
  const name = escapeHtml(offer.definition.name);
  return page(
    `Continue to ${offer.definition.name}`,
    `<h1>Continue to ${name}</h1><p>${name} asks you to authorize the connection.</p>` +
      `<p><a class="button" href="${url}">Continue to ${name}</a></p>`,
    { head: `<meta http-equiv="refresh" content="0;url=${url}">` },
  );
}

/** Where the browser returns to the product: its return URL with the outcome. */
export function returnUrlWith(returnUrl: string, integrationId: string, outcome: 'connected' | 'error', error?: string): string {
  const url = new URL(returnUrl);
  url.searchParams.set('integration', encodeGlobalID('Integration', integrationId));
  url.searchParams.set('outcome', outcome);
  if (error) url.searchParams.set('error', error);
  return url.toString();
}

/**
 * The connected integration. With script, the page posts the result to the window that opened it (only
 * to the allowed origins) or returns to the product; without, it returns to the product by a refresh.
 */
export function connectedPage(session: ConnectSession, integration: Integration, providerName: string): Response {
  const globalId = encodeGlobalID('Integration', integration.id);
  const back = session.returnUrl ? returnUrlWith(session.returnUrl, integration.id, 'connected') : null;
  const account = integration.account ? (integration.account.login ?? integration.account.name ?? integration.account.email) : null;
  const as = typeof account === 'string' || typeof account === 'number' ? ` as <strong>${escapeHtml(String(account))}</strong>` : '';
  const data = JSON.stringify({ integrationId: globalId, allowedOrigins: session.allowedOrigins, returnUrl: back }).replace(
    /</g,
    '\\u003c',
  );
  const next = back ? `<p><a class="button" href="${escapeHtml(back)}">Return to the app</a></p>` : '<p>You can close this window.</p>';
  return page(
    `${providerName} connected`,
    `<h1>Connected</h1><div class="ok" role="status">${escapeHtml(providerName)} is connected${as}.</div>` +
      `<p class="muted">Integration <code>${escapeHtml(globalId)}</code> · for ${forWhom(session)}</p>${next}` +
      `<script type="application/json" id="connect-result">${data}</script>`,
    {
      script: true,
      ...(back ? { head: `<noscript><meta http-equiv="refresh" content="0;url=${escapeHtml(back)}"></noscript>` } : {}),
    },
  );
}

/** An OAuth2 attempt that came back without a connection: why, and the way to try again. */
export function notConnectedPage(session: ConnectSession, reason: string, integrationId: string | null, error: string): Response {
  const back =
    session.returnUrl && integrationId
      ? ` or <a href="${escapeHtml(returnUrlWith(session.returnUrl, integrationId, 'error', error))}">return to the app</a>`
      : '';
  return page(
    'Not connected',
    `<h1>Not connected</h1><div class="alert" role="alert">The connection was not made: ${escapeHtml(reason)}.</div>` +
      `<p><a class="button" href="/connect/${session.id}">Try again</a></p><p class="muted">You can try again${back}.</p>`,
  );
}
