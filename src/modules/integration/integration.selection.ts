import { type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import type { ListColumn } from './integration-list.repository.js';

/**
 * The columns each summary field of `Integration` reads. A page whose nodes ask only for such fields
 * loads only their columns: about a fifth of the CPU of a 100-row page went to reading and converting
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
  createdAt: ['created_at'],
  updatedAt: ['updated_at'],
};

type Fragments = Record<string, FragmentDefinitionNode>;

/** Calls `visit` on every field selected in the set, through inline fragments and fragment spreads; false stops. */
function everyField(selectionSet: SelectionSetNode | undefined, fragments: Fragments, visit: (field: FieldNode) => boolean): boolean {
  if (!selectionSet) return true;
  return selectionSet.selections.every((selection) => {
    if (selection.kind === Kind.FIELD) return visit(selection);
    if (selection.kind === Kind.INLINE_FRAGMENT) return everyField(selection.selectionSet, fragments, visit);
    const fragment = fragments[selection.name.value];
    return fragment !== undefined && everyField(fragment.selectionSet, fragments, visit);
  });
}

function listColumns(info: GraphQLResolveInfo): ListColumn[] | 'all' {
  const fragments = info.fragments;
  const columns = new Set<ListColumn>();
  const onNode = (field: FieldNode) => {
    const read = FIELD_COLUMNS[field.name.value];
    for (const column of read ?? []) columns.add(column);
    return read !== undefined;
  };
  const onEdge = (field: FieldNode) => field.name.value !== 'node' || everyField(field.selectionSet, fragments, onNode);
  const onConnection = (field: FieldNode) => {
    if (field.name.value === 'edges') return everyField(field.selectionSet, fragments, onEdge);
    return field.name.value !== 'nodes' || everyField(field.selectionSet, fragments, onNode);
  };
  return info.fieldNodes.every((field) => everyField(field.selectionSet, fragments, onConnection)) ? [...columns] : 'all';
}

// Field nodes belong to a parsed document, which Yoga caches and reuses for the same query text, so each
// document's answer is worked out once.
const known = new WeakMap<FieldNode, ListColumn[] | 'all'>();

/** The columns a connection field of integrations needs for the fields its nodes select, or `all`. */
export function selectedListColumns(info: GraphQLResolveInfo): ListColumn[] | 'all' {
  const key = info.fieldNodes[0] as FieldNode;
  let columns = info.fieldNodes.length === 1 ? known.get(key) : undefined;
  if (columns === undefined) {
    columns = listColumns(info);
    if (info.fieldNodes.length === 1) known.set(key, columns);
  }
  return columns;
}
