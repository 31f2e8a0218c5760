import { type ConnectorDefinition, listConnectors, supportsRevocation } from '../../connectors/registry.js';
import { oauthConfigured } from '../../connectors/settings.js';
import type { ConfigField } from '../../connectors/types.js';
import { builder } from '../../graphql/builder.js';

export const AuthKindEnum = builder.enumType('AuthKind', {
  description: 'How the gateway authenticates to a provider.',
  values: {
    OAUTH2: { description: 'OAuth 2.0 authorization code grant, with refresh where the provider offers it.' },
    API_TOKEN: { description: 'A token the user creates at the provider (personal access token, API key).' },
    BASIC: { description: 'A user name and password or API secret, sent as HTTP Basic authentication.' },
  } as const,
});

const ConfigFieldKindEnum = builder.enumType('ProviderConfigFieldKind', {
  values: {
    ORIGIN: { value: 'origin', description: 'A host, optionally with port or scheme, e.g. `git.example.com`.' },
    URL: { value: 'url', description: 'An absolute http(s) URL.' },
    PATH: { value: 'path', description: 'A path starting with `/`.' },
    CHOICE: { value: 'choice', description: 'One of `choices`.' },
    TEXT: { value: 'text' },
    HEADER_NAME: { value: 'header-name', description: 'An HTTP header name.' },
    IDENTIFIER: { value: 'identifier', description: 'A lowercase name of letters, digits and `_`, e.g. a table name `cmdb_ci_server`.' },
  } as const,
});

const ConfigFieldRef = builder.objectRef<ConfigField>('ProviderConfigField').implement({
  description: 'A setting a user gives when connecting the provider, passed in `config`.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    required: t.exposeBoolean('required'),
    kind: t.expose('kind', { type: ConfigFieldKindEnum }),
    choices: t.stringList({ nullable: true, resolve: (field) => (field.choices ? [...field.choices] : null) }),
    default: t.exposeString('default', { nullable: true }),
  }),
});

export const ProviderRef = builder.objectRef<ConnectorDefinition>('Provider').implement({
  description: 'An entry of the connector catalog: something an organization can connect.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Stable identifier, e.g. `github`.' }),
    name: t.exposeString('name'),
    authKinds: t.field({ type: [AuthKindEnum], resolve: (provider) => [...provider.authKinds] }),
    defaultScopes: t.stringList({ resolve: (provider) => [...provider.defaultScopes] }),
    requiredScopes: t.stringList({ resolve: (provider) => [...provider.requiredScopes] }),
    configFields: t.field({ type: [ConfigFieldRef], resolve: (provider) => [...provider.configFields] }),
    supportsRevocation: t.boolean({
      description: 'Whether revoking an integration can also revoke its OAuth2 credential at the provider.',
      resolve: supportsRevocation,
    }),
    oauth2Configured: t.boolean({
      description: 'Whether this deployment has an OAuth2 client for the provider, so that OAUTH2 connections can start.',
      resolve: (provider, _args, context) => oauthConfigured(provider, context.services.connectorSettings[provider.key]),
    }),
    pkce: t.boolean({
      description: 'Whether OAuth2 authorizations use PKCE (S256).',
      resolve: (provider) => provider.oauth2?.pkce ?? false,
    }),
    rotatesRefreshTokens: t.boolean({ resolve: (provider) => provider.oauth2?.rotatesRefreshTokens ?? false }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({
    type: [ProviderRef],
    description: 'The connector catalog, sorted by key.',
    resolve: () => [...listConnectors()],
  }),
);
