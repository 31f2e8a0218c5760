import { builder } from '../../graphql/builder.js';
import { connectionColumns } from '../../graphql/selection.js';
import type { HealthCheck, HealthCheckColumn } from './health-check.repository.js';

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

/**
 * The columns each field of `HealthCheck` reads, for pages of history: W2's five checks per integration on
 * a page of 100 read their scopes arrays for nothing. Any field missing here makes a page load whole rows.
 */
const FIELD_COLUMNS: Readonly<Record<string, readonly HealthCheckColumn[]>> = {
  __typename: [],
  id: [],
  checkedAt: [],
  ok: ['ok'],
  httpStatus: ['http_status'],
  latencyMs: ['latency_ms'],
  errorCode: ['error_code'],
  message: ['message'],
  grantedScopes: ['granted_scopes'],
  missingScopes: ['missing_scopes'],
};

/** The columns a connection field of health checks needs for the fields its nodes select, or `all`. */
export const selectedHealthCheckColumns = connectionColumns(FIELD_COLUMNS);
