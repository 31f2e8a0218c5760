import { type ConnectorDefinition, listConnectors } from '../../connectors/registry.js';
import { builder } from '../../graphql/builder.js';

export const AuthKindEnum = builder.enumType('AuthKind', {
  description: 'How the gateway authenticates to a provider.',
  values: {
    OAUTH2: { description: 'OAuth 2.0 authorization code grant, with refresh where the provider offers it.' },
    API_TOKEN: { description: 'A token the user creates at the provider (personal access token, API key).' },
    BASIC: { description: 'A user name and password or API secret, sent as HTTP Basic authentication.' },
  } as const,
});

export const ProviderRef = builder.objectRef<ConnectorDefinition>('Provider').implement({
  description: 'An entry of the connector catalog: something an organization can connect.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Stable identifier, e.g. `github`.' }),
    name: t.exposeString('name'),
    authKinds: t.field({ type: [AuthKindEnum], resolve: (provider) => [...provider.authKinds] }),
    defaultScopes: t.stringList({ resolve: (provider) => [...provider.defaultScopes] }),
    supportsRevocation: t.exposeBoolean('supportsRevocation', {
      description: 'Whether revoking an integration also revokes its credential at the provider.',
    }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({
    type: [ProviderRef],
    description: 'The connector catalog, sorted by key.',
    resolve: () => [...listConnectors()],
  }),
);
