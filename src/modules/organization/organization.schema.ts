import { builder } from '../../graphql/builder.js';
import type { Organization } from './organization.repository.js';

export const OrganizationRef = builder.objectRef<Organization>('Organization');

builder.node(OrganizationRef, {
  description: 'A tenant: every integration and API key belongs to exactly one organization.',
  id: { resolve: (organization) => organization.id },
  // The only organization a caller can see is its own; no statement is needed.
  loadOne: (id, context) => (id === context.viewer.organization.id ? context.viewer.organization : null),
  fields: (t) => ({
    slug: t.exposeString('slug', { description: 'Stable, URL-safe handle.' }),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});
