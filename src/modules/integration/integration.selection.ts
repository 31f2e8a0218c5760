import { connectionColumns, objectColumns } from '../../graphql/selection.js';
import type { ListColumn } from './integration-list.repository.js';

/**
 * The columns each summary field of `Integration` reads. A page (or a `node`) whose integrations ask only
 * for such fields loads only their columns: about a fifth of the CPU of a 100-row page went to reading and converting
 * columns nobody asked for (BENCHMARKS.md). Any field missing here (e.g. one added later) makes the page
 * load whole rows, which is always correct.
 */
const FIELD_COLUMNS: Readonly<Record<string, readonly ListColumn[]>> = {
  __typename: [],
  id: [],
  healthChecks: [],
  provider: ['provider'],
  displayName: ['display_name'],
  environment: ['environment'],
  authKind: ['auth_kind'],
  status: ['status'],
  statusReason: ['status_reason'],
  health: ['health'],
  lastHealthCheck: ['last_check_at', 'last_check_ok', 'last_check_latency_ms', 'last_check_http_status', 'last_check_message'],
  lastSync: ['last_sync_status', 'last_sync_started_at', 'last_sync_finished_at', 'last_sync_item_count', 'last_sync_error'],
  revokedAt: ['revoked_at'],
  endUser: ['end_user_id', 'end_user_display_name', 'end_user_email'],
  scopes: ['requested_scopes'],
  grantedScopes: ['granted_scopes'],
  createdAt: ['created_at'],
  updatedAt: ['updated_at'],
};

/** The columns a connection field of integrations needs for the fields its nodes select, or `all`. */
export const selectedListColumns = connectionColumns(FIELD_COLUMNS);

/** The columns a `node` or `nodes` field needs for the fields its integrations select, or `all`. */
export const selectedNodeColumns = objectColumns(FIELD_COLUMNS);
