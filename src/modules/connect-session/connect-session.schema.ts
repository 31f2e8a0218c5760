import { builder } from '../../graphql/builder.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { asPayload, UserError } from '../../graphql/user-error.js';
import { actorOf } from '../integration/integration.mutations.js';
import { AuthKindEnum } from '../provider/provider.schema.js';
import { createConnectSession } from './connect-session.service.js';

const ConnectEndUserInput = builder.inputType('ConnectEndUserInput', {
  description: "The end user a connect session is for: your product's own identifier and labels, recorded on the integration.",
  fields: (t) => ({
    id: t.string({ required: true, description: "Your product's identifier of the user (1 to 200 characters)." }),
    displayName: t.string({ description: 'Shown on the connect page.' }),
    email: t.string(),
  }),
});

builder.relayMutationField(
  'createConnectSession',
  {
    inputFields: (t) => ({
      endUser: t.field({ type: ConnectEndUserInput, required: true }),
      allowedProviders: t.stringList({ description: 'Catalog keys the page offers; every provider when absent.' }),
      allowedAuthKinds: t.field({ type: [AuthKindEnum], description: 'Auth kinds the page offers; every kind when absent.' }),
      integrationId: t.id({ description: 'Reconnect this integration (its provider only); it keeps its ID.' }),
      environment: t.string({ description: 'The environment label the connected integration gets.' }),
      returnUrl: t.string({
        description:
          'Where the browser goes after connecting, with `integration` and `outcome` query parameters, when the page is not a popup. ' +
          'https, or http on a loopback address.',
      }),
      allowedOrigins: t.stringList({
        description:
          'Exact origins (e.g. `https://app.example.com`) of the pages that open the connect page as a popup: ' +
          'the result is posted to the opener only when its origin is one of them.',
      }),
      expiresInSeconds: t.int({ description: 'Lifetime of the token: 60 to 86400 seconds; 1800 (30 minutes) when absent.' }),
    }),
  },
  {
    description:
      'Issues a connect session: a short-lived token for one end user that opens the hosted connect page (`connectUrl`), ' +
      'where the user connects a provider within the given limits without an API key. The token works until it expires or ' +
      'a connection succeeds, and for nothing else. Requires EDITOR.',
    authScopes: { editor: true },
    resolve: (_root, { input }, context, info) =>
      asPayload(
        () =>
          createConnectSession(context.services, context.db, actorOf(context, String(info.path.key)), {
            ...input,
            allowedAuthKinds: input.allowedAuthKinds ?? null,
            integrationId: input.integrationId == null ? null : decodeTypedID(String(input.integrationId), 'Integration'),
          }),
        { token: null, connectUrl: null, expiresAt: null, session: null },
      ),
  },
  {
    outputFields: (t) => ({
      token: t.exposeString('token', {
        nullable: true,
        description: 'The session token, shown this once (only its hash is kept). It is not an API key: no API accepts it.',
      }),
      connectUrl: t.exposeString('connectUrl', {
        nullable: true,
        description: "Open this in the end user's browser (a popup or a redirect): the hosted connect page. It carries the token.",
      }),
      expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
      userErrors: t.expose('userErrors', { type: [UserError] }),
    }),
  },
);
