import { builder } from '../../graphql/builder.js';
import { ApiKeyRef, RoleEnum } from '../api-key/api-key.schema.js';
import type { Viewer } from '../api-key/viewer.js';
import { OrganizationRef } from '../organization/organization.schema.js';

const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'The authenticated caller: an API key of one organization.',
  fields: (t) => ({
    organization: t.field({ type: OrganizationRef, resolve: (viewer) => viewer.organization }),
    role: t.field({ type: RoleEnum, resolve: (viewer) => viewer.role }),
    apiKey: t.field({ type: ApiKeyRef, resolve: (viewer) => viewer.apiKey }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({ type: ViewerRef, description: 'Who is asking.', resolve: (_root, _args, context) => context.viewer }),
);
