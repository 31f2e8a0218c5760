import type { AuthKind } from '../db/database.js';

/** A value the user supplies when connecting, e.g. a self-hosted instance's host. */
export interface ConfigField {
  name: string;
  description: string;
  required: boolean;
  /**
   * `origin`: a host[:port] or http(s) origin; `url`: an absolute http(s) URL; `path`: starts with `/`;
   * `identifier`: a lowercase name of letters, digits and `_` (a ServiceNow table or column).
   */
  kind: 'origin' | 'url' | 'path' | 'choice' | 'text' | 'header-name' | 'identifier';
  choices?: readonly string[];
  default?: string;
}

/**
 * A URL template. `{name}` is replaced by the integration's config value of that name; for `origin`
 * fields the value is normalised to `https://host[:port]` unless it names its scheme.
 */
export type UrlTemplate = string;

export interface OAuth2Definition {
  authorizeUrl: UrlTemplate;
  tokenUrl: UrlTemplate;
  /** RFC 7009 endpoint, when the provider has one. */
  revokeUrl?: UrlTemplate;
  /** How a scope list is joined in the authorize request and split in token responses. */
  scopeSeparator: ' ' | ',';
  pkce: boolean;
  /** Whether each refresh answers with a new refresh token that replaces the old one. */
  rotatesRefreshTokens: boolean;
  /** How the client authenticates at the token endpoint. */
  clientAuth: 'client_secret_post' | 'client_secret_basic';
  /** Extra authorize parameters, e.g. Atlassian's `audience`. */
  authorizeParams?: Readonly<Record<string, string>>;
  /**
   * The lifetime the provider documents for its access tokens, in seconds: the expiry of a token answer
   * without `expires_in`. Without it such a token's expiry is unknown (null) and it is refreshed by age.
   */
  defaultExpiresInSeconds?: number;
}

/** How a credential is presented on a request. `{token}`, `{username}`, `{password}` are substituted. */
export type CredentialPlacement = { kind: 'bearer' } | { kind: 'basic' } | { kind: 'header'; name: string; format: string };

/** Where a probe answer carries something: a response header, or a dotted path into the JSON body. */
export type AnswerSource = { header: string; separator?: string } | { body: string };

export interface ProbeDefinition {
  method: 'GET' | 'POST';
  /** Path (or URL template) relative to the API base URL. */
  path: UrlTemplate;
  headers?: Readonly<Record<string, string>>;
  /** Fields of the account identity, read from the answer: e.g. `{ login: { body: 'login' } }`. */
  identity: Readonly<Record<string, AnswerSource>>;
  /** Where the granted scopes are reported, when the provider reports them on this request. */
  grantedScopes?: AnswerSource;
  /**
   * Providers that answer 200 with a failure flag (Slack's `{"ok": false}`): the body path that must be
   * true, and the error values that mean the credential itself is rejected.
   */
  okFlag?: { body: string; errorBody: string; rejectedErrors: readonly string[] };
}

/**
 * What a credential reaches, listed by an inventory sync: one kind of resource, read page by page from
 * a list endpoint.
 */
export interface InventoryDefinition {
  /** The kind of resource, e.g. `repository`. */
  kind: string;
  /**
   * Path (or URL template) of the first page, relative to the API base; it asks for the largest page.
   * `{name}` is a config value, `{oauthApi}` the deployment's OAuth API base, or a `lookup`'s value.
   */
  path: UrlTemplate;
  /**
   * How the next page is found: `link`, the `Link` header's `rel="next"` URL (RFC 8288), as GitHub,
   * GitLab and ServiceNow send it; or a cursor in the body (`body`, a dotted path; none or empty on the
   * last page) sent back as the query parameter `param`, as Slack's `response_metadata.next_cursor` and
   * `cursor` (with `urls`, a value that is a URL or a path is the next page itself, and a `Link` header's
   * next page comes first); or an offset (`param`) advanced by each page's item count while the body's
   * `more` path is true (PagerDuty's `offset` and `more`) or until its `last` path is true (Jira's
   * `startAt` and `isLast`); or a page number (`param`, from 0) advanced while a page is full, that is
   * holds the `size` query parameter's count of items (Datadog's `page` and `page_size`).
   */
  pagination:
    | 'link'
    | { cursor: { body: string; param: string; urls?: boolean } }
    | { offset: { param: string; more: string } | { param: string; last: string } }
    | { page: { param: string; size: string } };
  /** Where the answer's items are: a dotted path into the body; absent, or a body that is an array: the body. */
  items?: string;
  /**
   * Where each item's fields are: dotted paths into one element of the answer's array. `url` may instead
   * be a template of a link the provider does not send (`{site}/browse/{.key}`): `{.path}` is the item's
   * field, `{name}` a config value.
   */
  fields: { id: string; name: string; url?: string };
  /** Fields of an item kept as its metadata, by their dotted paths. */
  metadata?: readonly string[];
  /** The auth kinds whose credential can list this; absent: every kind of the connector. */
  authKinds?: readonly AuthKind[];
  /** A config field the integration must set for this listing to apply (the generic connector's `inventoryPath`). */
  requiresConfig?: string;
  /**
   * A value the path needs that only the provider knows, read before the first page: the element of the
   * list at `path` whose `match.field` is the origin of the config field `match.config`, its `value`
   * field (Atlassian's cloud id of the integration's site, from `accessible-resources`).
   */
  lookup?: { name: string; path: UrlTemplate; match: { field: string; config: string }; value: string };
}

/** A provider the gateway can connect, as data. */
export interface ConnectorDefinition {
  key: string;
  name: string;
  authKinds: readonly AuthKind[];
  /** API base URL template; overridable per deployment. */
  apiUrl: UrlTemplate;
  configFields: readonly ConfigField[];
  defaultScopes: readonly string[];
  /** Scopes without which the integration cannot work; a probe that lacks one reports them missing. */
  requiredScopes: readonly string[];
  oauth2?: OAuth2Definition;
  /** How each auth kind presents its credential. */
  credentials: Partial<Record<AuthKind, CredentialPlacement>>;
  /** The connectivity probe, optionally different per auth kind. */
  probe: ProbeDefinition;
  probeByAuthKind?: Partial<Record<AuthKind, ProbeDefinition>>;
  /** A provider-specific revocation call for providers without RFC 7009 (see `revoke` in runtime). */
  customRevocation?: 'github' | 'slack';
  /** Headers sent on every API request (e.g. an API version). */
  apiHeaders?: Readonly<Record<string, string>>;
  /**
   * What an inventory sync lists: the first listing whose `authKinds` and `requiresConfig` fit the
   * integration (see `inventoryFor`); absent or none fitting: the integration has no inventory.
   */
  inventory?: InventoryDefinition | readonly InventoryDefinition[];
}
