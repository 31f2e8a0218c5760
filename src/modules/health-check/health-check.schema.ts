import { builder } from '../../graphql/builder.js';
import type { HealthCheck } from './health-check.repository.js';

export const HealthCheckRef = builder.objectRef<HealthCheck>('HealthCheck');

builder.node(HealthCheckRef, {
  description: 'One probe of an integration, kept in its history.',
  id: { resolve: (check) => check.id },
  loadMany: (ids, context) => ids.map((id) => context.loaders.healthCheck.load(id)),
  fields: (t) => ({
    checkedAt: t.expose('checkedAt', { type: 'DateTime' }),
    ok: t.exposeBoolean('ok'),
    httpStatus: t.exposeInt('httpStatus', { nullable: true }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'Why the probe failed, when it did.' }),
    message: t.exposeString('message', { nullable: true }),
    grantedScopes: t.exposeStringList('grantedScopes', { nullable: true, description: 'Null when the provider does not report scopes.' }),
    missingScopes: t.exposeStringList('missingScopes'),
  }),
});
