import { builder } from '../../graphql/builder.js';
import { ApiKeyRef, RoleEnum } from '../api-key/api-key.schema.js';
import type { SignedInUser, Viewer } from '../api-key/viewer.js';
import { OrganizationRef } from '../organization/organization.schema.js';

const SignedInUserRef = builder.objectRef<SignedInUser>('SignedInUser').implement({
  description: "A person signed in with a token from the organization's identity provider (OIDC).",
  fields: (t) => ({
    issuer: t.exposeString('issuer', { description: 'The identity provider that issued the token (`iss`).' }),
    subject: t.exposeString('subject', { description: "The user's id at the identity provider (`sub`)." }),
  }),
});

const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description:
    "The authenticated caller: an API key of one organization, or a user signed in through the organization's identity provider.",
  fields: (t) => ({
    organization: t.expose('organization', { type: OrganizationRef }),
    role: t.expose('role', { type: RoleEnum }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The API key the request authenticated with; null for a signed-in user.',
      // Read afresh: authentication may have used a key verified a few seconds ago (its name, its last use).
      resolve: (viewer, _args, context) => (viewer.apiKey ? context.loaders.apiKey.load(viewer.apiKey.id) : null),
    }),
    user: t.field({
      type: SignedInUserRef,
      nullable: true,
      description: 'The signed-in user; null for an API key.',
      resolve: (viewer) => viewer.user,
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({ type: ViewerRef, description: 'Who is asking.', resolve: (_root, _args, context) => context.viewer }),
);
